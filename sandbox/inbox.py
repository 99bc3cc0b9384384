"""The sandbox's chat inbox: it takes what a dashboard channel posts (Apprise's `json://` and
`form://` webhooks, Mattermost's `mmost://`) at `/_sandbox/inbox/<name>` and keeps the last
messages in memory, for the page at `/_sandbox/inbox` ("a chat" for `make run` and the demo).

    POST /_sandbox/inbox/<name>                 json://HOST:PORT/_sandbox/inbox/<name>
    POST /_sandbox/inbox/<name>/hooks/<token>   mmost://HOST:PORT/_sandbox/inbox/<name>/<token>
    GET  /_sandbox/inbox                        the page, newest first (refreshes itself)
    GET  /_sandbox/inbox/messages               the same as JSON
    POST /_sandbox/inbox/clear
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

KEPT = 200
MAX_TEXT = 20_000  # a post longer than this is kept cut


@dataclass(frozen=True)
class ChatMessage:
    chat: str
    at: float
    title: str
    text: str
    kind: str  # "json", "form" or "mattermost": the form the post had


class Inbox:
    def __init__(self) -> None:
        self._messages: deque[ChatMessage] = deque(maxlen=KEPT)
        self._lock = threading.Lock()

    def receive(self, chat: str, data: dict[str, Any], *, mattermost: bool = False) -> ChatMessage:
        """Keep one post: Apprise's JSON/form webhook (`title`, `message`) or Mattermost's (`text`)."""
        if mattermost or ("text" in data and "message" not in data):
            title, text, kind = "", str(data.get("text", "")), "mattermost"
        else:
            title, text = str(data.get("title", "")), str(data.get("message", ""))
            kind = "json" if "version" in data or "type" in data else "form"
        message = ChatMessage(chat=chat[:100], at=time.time(), title=title[:500], text=text[:MAX_TEXT], kind=kind)
        with self._lock:
            self._messages.append(message)
        return message

    def messages(self) -> list[ChatMessage]:
        """Newest first."""
        with self._lock:
            return list(reversed(self._messages))

    def as_json(self) -> list[dict[str, Any]]:
        return [asdict(message) for message in self.messages()]

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()
