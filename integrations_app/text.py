"""Text from outside (upstream answers, names typed by people) made safe to store and to show.

Three rules, one home:
- `fit`: whatever is written to a `CharField` fits its column. SQLite stores any length, but
  PostgreSQL refuses a value longer than `varchar(n)` (and any NUL), which aborts the transaction.
- `one_line`: text for one line (an email subject): no control or bidirectional characters,
  whitespace collapsed, so a CR/LF from upstream cannot break a header or reorder what it says.
- `refuse_invisible`: the validator for names typed here (pages, admin, commands): no control or
  invisible formatting character, so two names never look alike while being different.
"""

from __future__ import annotations

import unicodedata

from django.core.exceptions import ValidationError
from django.db import models

ELLIPSIS = "…"
# Line and paragraph separators are not `C*` but end a line all the same.
_LINE_BREAKS = {"\u2028", "\u2029"}


def _is_invisible(char: str) -> bool:
    """Control (Cc), format (Cf: bidi overrides, zero-width spaces), surrogate, private-use and
    unassigned code points, and the Unicode line breaks."""
    return unicodedata.category(char).startswith("C") or char in _LINE_BREAKS


def storable(text: str) -> str:
    """`text` without what no database column can hold: NUL and lone surrogates."""
    return "".join(char for char in text if char != "\x00" and not 0xD800 <= ord(char) <= 0xDFFF)


def cut(text: str, limit: int) -> str:
    """At most `limit` characters; a cut text ends with an ellipsis so nobody reads it as whole."""
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def fit(model: type[models.Model] | models.Model, field_name: str, text: str) -> str:
    """`text` made storable and cut to the `max_length` of `model.field_name`."""
    field = model._meta.get_field(field_name)
    limit = field.max_length if isinstance(field, models.Field) else None  # a relation has none
    if limit is None:
        raise ValueError(f"{model._meta.label}.{field_name} has no max_length")
    return cut(storable(text), limit)


def one_line(text: str, limit: int | None = None) -> str:
    """`text` for a single line: control and bidirectional characters dropped (the whitespace
    among them becomes a space), runs of whitespace collapsed to one space, ends trimmed."""
    # Fast path (the overview cleans some 250 names a page, and the per-character test of
    # `_cleaned` was a tenth of its time): printable text has no control, format, surrogate,
    # private-use or unassigned character and no whitespace but the plain space, so only runs of
    # spaces are left to collapse. tests/properties/test_one_line.py proves it equal to `_cleaned`
    # on every code point.
    line = " ".join(text.split()) if text.isprintable() else _cleaned(text)
    return line if limit is None else cut(line, limit)


def _cleaned(text: str) -> str:
    """`one_line` character by character (before its limit)."""
    kept = "".join(" " if char.isspace() else char for char in text if char.isspace() or not _is_invisible(char))
    return " ".join(kept.split())


def refuse_invisible(value: str) -> None:
    """The one rule for names typed in the dashboard, its admin and its commands."""
    if any(_is_invisible(char) for char in value):
        raise ValidationError(
            "A name cannot contain control characters or invisible ones "
            "(tabs, line breaks, direction marks and similar).",
            code="invisible_character",
        )


def refuse_hidden(value: str) -> None:
    """The rule for free text typed in the dashboard (a comment): tabs and line breaks may be typed
    (they are shown as spaces), no other control or invisible character."""
    if any(_is_invisible(char) and not char.isspace() for char in value):
        raise ValidationError(
            "The text cannot contain control characters or invisible ones (direction marks and similar).",
            code="invisible_character",
        )
