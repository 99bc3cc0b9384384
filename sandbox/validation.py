"""Schema checks of ChargebackStop request bodies: every problem found, each naming its field.

The docs name only business errors (422); for schema problems they leave open, the sandbox answers
400 `VALIDATION_ERROR` with a `field`, the way request validators usually do. `null` counts as
absent (an optional field sent as `null` is an omitted field).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from werkzeug.wrappers import Request


class Problem(Exception):
    """One or more schema problems: `(field, message)` pairs."""

    def __init__(self, field: str, message: str, *more: tuple[str, str]) -> None:
        super().__init__(message)
        self.problems = [(field, message), *more]

    def as_errors(self) -> list[dict[str, str]]:
        return [{"code": "VALIDATION_ERROR", "message": message, "field": field} for field, message in self.problems]


class BodyChecker:
    def __init__(self, payload: dict[str, Any]) -> None:
        self.payload = payload
        self.problems: list[tuple[str, str]] = []

    @classmethod
    def from_request(cls, request: Request) -> BodyChecker:
        try:
            payload = json.loads(request.get_data(cache=True) or b"null")
        except (ValueError, UnicodeDecodeError):
            raise Problem("body", "Request body is not valid JSON") from None
        if not isinstance(payload, dict):
            raise Problem("body", "Request body must be a JSON object")
        return cls(payload)

    def text(
        self, name: str, *, required: bool = False, max_length: int | None = None, choices: Iterable[str] = ()
    ) -> str | None:
        value = self.payload.get(name)
        choices = tuple(choices)
        if value is None:
            if required:
                self.problems.append((name, f"{name} is required"))
        elif not isinstance(value, str):
            self.problems.append((name, f"{name} must be a string"))
        elif max_length is not None and not 1 <= len(value) <= max_length:
            self.problems.append((name, f"{name} must be 1-{max_length} characters"))
        elif choices and value not in choices:
            self.problems.append((name, f"{name} must be one of: {', '.join(choices)}"))
        else:
            return value
        return None

    def strings(self, name: str, *, required: bool = False) -> list[str]:
        """A non-empty list of strings (uniqueness is a business rule, checked later)."""
        value = self.payload.get(name)
        if value is None:
            if required:
                self.problems.append((name, f"{name} is required"))
        elif not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            self.problems.append((name, f"{name} must be a list of strings"))
        elif not value:
            self.problems.append((name, f"{name} must not be empty"))
        else:
            return value
        return []

    def check(self) -> None:
        if self.problems:
            raise Problem(*self.problems[0], *self.problems[1:])
