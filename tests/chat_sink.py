"""A real HTTP server standing in for chat services: it keeps every POST it receives (path,
headers, body) and answers with the status set for it, so tests send through Apprise for real.

- `json://127.0.0.1:PORT/path` (Apprise's JSON webhook) posts `{"title", "message", "type"…}` to
  `/path`;
- `mmost://127.0.0.1:PORT/TOKEN` (Mattermost) posts `{"text"…}` to `/hooks/TOKEN`.
"""

from __future__ import annotations

import contextlib
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    raw: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.raw)

    @property
    def text(self) -> str:
        return self.raw.decode("utf-8", "replace")


class ChatSink:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.status = 200
        self.delay = 0.0  # seconds before answering (a slow service)
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with sink._lock:
                    sink.received.append(Received(self.path, dict(self.headers.items()), body))
                    status, delay = sink.status, sink.delay
                if delay:
                    threading.Event().wait(delay)
                answer = b"ok" if status < 400 else b'{"error": "the sink was told to fail"}'
                with contextlib.suppress(OSError):  # the sender gave up waiting (a deadline test)
                    self.send_response(status)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def messages(self, path: str | None = None) -> list[Received]:
        with self._lock:
            return [each for each in self.received if path is None or each.path == path]

    def json_url(self, path: str = "/hook") -> str:
        return f"json://127.0.0.1:{self.port}{path}"

    def mattermost_url(self, token: str) -> str:
        return f"mmost://127.0.0.1:{self.port}/{token}"

    def start(self) -> ChatSink:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
