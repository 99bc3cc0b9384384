"""The console email backend (`EMAIL_URL=consolemail://`, the demo's default), for a person reading
a terminal: each email is one framed block with its addresses, its subject as written (Django's
backend prints the MIME-encoded header, `=?utf-8?q?=5BPaystatus…`) and its plain-text body."""

from __future__ import annotations

import sys
import textwrap
from typing import Any

from django.core.mail import EmailMessage
from django.core.mail.backends import console

WIDTH = 78


class EmailBackend(console.EmailBackend):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # The real standard output: a Celery worker replaces sys.stdout with a proxy that logs each
        # line as a WARNING record, which would split the block into prefixed log lines.
        kwargs.setdefault("stream", sys.__stdout__)
        super().__init__(*args, **kwargs)

    def write_message(self, message: EmailMessage) -> None:
        self.stream.write(frame(message))


def frame(message: EmailMessage) -> str:
    alternatives = getattr(message, "alternatives", [])
    head = [
        f"From:    {message.from_email}",
        f"To:      {', '.join(message.to)}",
        *textwrap.wrap(f"Subject: {message.subject}", WIDTH - 4, subsequent_indent=" " * 9),
    ]
    text = message.body.rstrip().splitlines()
    body = [piece for line in text for piece in textwrap.wrap(line, WIDTH - 4, subsequent_indent="  ") or [""]]
    if alternatives:
        body += ["", f"(also sent as {', '.join(mimetype for _, mimetype in alternatives)})"]
    title = " Email "
    lines = [f"┌─{title}{'─' * (WIDTH - 3 - len(title))}┐"]
    lines += [f"│ {line:<{WIDTH - 4}} │" for line in head]
    lines.append(f"├{'─' * (WIDTH - 2)}┤")
    lines += [f"│ {line:<{WIDTH - 4}} │" for line in body]
    lines.append(f"└{'─' * (WIDTH - 2)}┘")
    return "\n".join(lines) + "\n"
