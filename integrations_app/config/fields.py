"""The fields of a configuration entry: each reads a `Node` and returns its value, or says in words
what is wrong with it (the caller adds the line and the entry's name)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from integrations_app.config.yamlio import Node
from integrations_app.forms import ID_CHARACTERS
from integrations_app.text import refuse_invisible


class Invalid(Exception):
    """A value that cannot be used, in words (`line` when it is not the field's own line)."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message, self.line = message, line


Reader = Callable[[Node], Any]


@dataclass(frozen=True)
class Field:
    """One field of an entry: how to read it, and its value when the entry leaves it out
    (`required`: no default)."""

    read: Reader
    required: bool = True
    default: Any = None
    # Not compared or written as a plain value (a secret: sealed in the file, compared decrypted).
    secret: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _expect(node: Node, wanted: str) -> Invalid:
    return Invalid(f"expected {wanted}, got {node.kind()}")


def text(max_length: int, *, blank: bool = False, pattern: re.Pattern[str] | None = None, what: str = "") -> Reader:
    def read(node: Node) -> str:
        if not isinstance(node.value, str):
            raise _expect(node, "text")
        value = node.value
        if not value and not blank:
            raise Invalid("must not be empty")
        if len(value) > max_length:
            raise Invalid(f"is at most {max_length} characters; this is {len(value)}")
        if pattern is not None and value and not pattern.fullmatch(value):
            raise Invalid(f"“{value[:40]}” is not {what}")
        return value

    return read


def name(max_length: int = 100) -> Reader:
    """A name as the dashboard's forms take it, by the same form field: spaces around it stripped,
    required (so not only spaces), no control or invisible characters."""
    field = forms.CharField(
        max_length=max_length,
        strip=True,
        validators=[refuse_invisible],
        error_messages={
            "required": "must not be empty",
            "max_length": "is at most %(limit_value)d characters; this is %(show_value)d",
        },
    )

    def read(node: Node) -> str:
        if not isinstance(node.value, str):
            raise _expect(node, "text")
        try:
            value: str = field.clean(node.value)
        except ValidationError as error:
            raise Invalid(" ".join(str(message).rstrip(".") for message in error.messages)) from None
        return value

    return read


def optional(reader: Reader) -> Reader:
    def read(node: Node) -> Any:
        return None if node.value is None else reader(node)

    return read


def boolean(node: Node) -> bool:
    if not isinstance(node.value, bool):
        raise _expect(node, "true or false")
    return node.value


def whole(minimum: int, maximum: int = 10**9) -> Reader:
    def read(node: Node) -> int:
        if isinstance(node.value, bool) or not isinstance(node.value, int):
            raise _expect(node, "a whole number")
        if not minimum <= node.value <= maximum:
            raise Invalid(f"must be between {minimum:,} and {maximum:,}; this is {node.value:,}")
        return node.value

    return read


def choice(choices: list[str]) -> Reader:
    def read(node: Node) -> str:
        if not isinstance(node.value, str) or node.value not in choices:
            raise Invalid(f"must be one of {', '.join(choices)}; got {str(node.value)[:40]!r}")
        return node.value

    return read


def upstream_id(what: str) -> Reader:
    return text(100, pattern=ID_CHARACTERS, what=f"{what} (letters, digits, “_” and “-”)")


def items(item: Reader, what: str, max_items: int, order: Callable[[Any], Any] | None = None) -> Reader:
    """A list of values, each once, sorted by `order` (so the file's order does not matter)."""

    def read(node: Node) -> list[Any]:
        if not isinstance(node.value, list):
            raise _expect(node, f"a list of {what}s")
        if len(node.value) > max_items:
            raise Invalid(f"lists {len(node.value):,} {what}s; at most {max_items:,}")
        values = []
        for position, child in enumerate(node.value):
            try:
                values.append(item(child))
            except Invalid as error:
                raise Invalid(f"item {position + 1}: {error.message}", child.line) from None
        if len(set(values)) != len(values):
            raise Invalid(f"lists a {what} more than once")
        return sorted(values, key=order)

    return read


def id_list(what: str, max_items: int) -> Reader:
    """A list of upstream IDs, each once, sorted."""
    return items(upstream_id(what), what, max_items)


def records(fields: dict[str, Field], key: str, max_items: int) -> Reader:
    """A list of small mappings (a project's members), each once by `key`, sorted by it."""

    def read(node: Node) -> list[dict[str, Any]]:
        if not isinstance(node.value, list):
            raise _expect(node, "a list")
        if len(node.value) > max_items:
            raise Invalid(f"lists {len(node.value):,} items; at most {max_items:,}")
        values = []
        for position, child in enumerate(node.value):
            try:
                values.append(read_mapping(child, fields))
            except Invalid as error:
                raise Invalid(f"item {position + 1}: {error.message}", error.line or child.line) from None
        keys = [value[key] for value in values]
        if repeated := sorted({item for item in keys if keys.count(item) > 1}):
            raise Invalid(f"lists {key} {', '.join(repeated[:5])} more than once")
        return sorted(values, key=lambda value: value[key])

    return read


def read_mapping(node: Node, fields: dict[str, Field]) -> dict[str, Any]:
    """A mapping's fields, defaults filled in, in the order of `fields`; Invalid names the first
    problem (a nested record has no name of its own to report several under)."""
    if not isinstance(node.value, dict):
        raise _expect(node, "a mapping")
    if unknown := [name for name in node.value if name not in fields]:
        raise Invalid(f"unknown field “{unknown[0]}” (expected {', '.join(fields)})", node.value[unknown[0]].line)
    values: dict[str, Any] = {}
    for name, spec in fields.items():
        child = node.value.get(name)
        if child is None:
            if spec.required:
                raise Invalid(f"{name} is missing")
            values[name] = spec.default
            continue
        try:
            values[name] = spec.read(child)
        except Invalid as error:
            raise Invalid(f"{name}: {error.message}", error.line or child.line) from None
    return values
