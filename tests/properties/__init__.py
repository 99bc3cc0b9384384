"""Property-based tests (hypothesis): forms, commands and upstream parsers fed bad input.

Shared here: the settings every property runs with, a savepoint that undoes each example, the
strategies for names and identifiers, and the rules those inputs are judged by. The rules are
the documented ones (DESIGN.md, the upstream docs, the forms' help texts), written out plainly so
that a test says "this must be refused" without asking the code under test.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import transaction
from django.db.models import Model
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# --- running examples ----------------------------------------------------------------------------


def examples(count: int) -> settings:
    """Few, slow-tolerant examples; no example database left in the working tree."""
    return settings(
        max_examples=count,
        deadline=None,
        database=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,  # fixtures build rows once; each example rolls back its own
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )


@contextmanager
def rolled_back() -> Iterator[None]:
    """Run one example in a savepoint that is always undone, so examples never see each other's rows."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


# --- characters and text -------------------------------------------------------------------------

# What a browser or a shell can send: any character UTF-8 can carry (no lone surrogates).
ANY_CHARACTER = st.characters(codec="utf-8")
VISIBLE_CHARACTER = st.characters(categories=["L", "M", "N", "P", "S"], codec="utf-8")
CONTROL_CHARACTER = st.characters(categories=["Cc"]) | st.sampled_from(["\u2028", "\u2029"])
INVISIBLE_CHARACTER = st.characters(categories=["Cf"])  # bidi overrides, zero-width spaces
PADDING = st.sampled_from(["", " ", "  ", "\t", "\n", "\r\n", "\u3000", "\xa0"])


def text_of_length(length: int) -> st.SearchStrategy[str]:
    """Visible text of exactly `length` characters, with inner spaces but none at the ends."""
    if length < 3:
        return st.text(VISIBLE_CHARACTER, min_size=length, max_size=length)
    inner = st.text(st.one_of(VISIBLE_CHARACTER, st.just(" ")), min_size=length - 2, max_size=length - 2)
    return st.tuples(VISIBLE_CHARACTER, inner, VISIBLE_CHARACTER).map("".join)


def names(*limits: int) -> st.SearchStrategy[str]:
    """Names at and around each length limit, any unicode, padded, blank, and with a control or
    invisible character inside."""
    lengths = sorted({0, 1, 2, *limits, *(limit + 1 for limit in limits)})
    exact = st.sampled_from(lengths).flatmap(text_of_length)
    padded = st.tuples(PADDING, exact, PADDING).map("".join)
    with_control = st.tuples(
        st.text(VISIBLE_CHARACTER, max_size=12),
        CONTROL_CHARACTER | INVISIBLE_CHARACTER,
        st.text(VISIBLE_CHARACTER, max_size=12),
    ).map("".join)
    blank = st.lists(PADDING, max_size=4).map("".join)
    return st.one_of(exact, padded, with_control, blank, st.text(ANY_CHARACTER, max_size=300))


def has_control_character(value: str, *, invisible_too: bool) -> bool:
    """Control characters (tabs, line breaks, NUL, U+2028/9); with `invisible_too`, also every `C*`
    category (bidi overrides, zero-width spaces, unassigned code points): the rule of every name
    typed in the dashboard."""
    if invisible_too:
        return any(unicodedata.category(char).startswith("C") or char in "\u2028\u2029" for char in value)
    return any(unicodedata.category(char) == "Cc" or char in "\u2028\u2029" for char in value)


def name_is_acceptable(value: str, *, limit: int, invisible_too: bool) -> bool:
    """1 to `limit` characters once spaces around it are trimmed, and no control character."""
    name = value.strip()
    return 0 < len(name) <= limit and not has_control_character(name, invisible_too=invisible_too)


def credential_name_is_acceptable(value: str, model: type[Model]) -> bool:
    """1 to 100 characters, no control or invisible character, unique among its kind ignoring case."""
    if not name_is_acceptable(value, limit=100, invisible_too=True):
        return False
    return not model._default_manager.filter(name__iexact=value.strip()).exists()


# --- identifiers ---------------------------------------------------------------------------------

SEPARATOR = st.sampled_from([",", " ", "\n", "\r\n", "\t", ", ", " ,\n", ",,", "\u3000"])
GOOD_MERCHANT_ID = st.from_regex(r"[A-Za-z0-9_\-]{1,24}", fullmatch=True)
MERCHANT_ID = re.compile(r"[A-Za-z0-9_\-]{1,100}")
LIST_SEPARATORS = re.compile(r"[\s,]+")


def id_lists(good: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """IDs as typed in a textarea: mixed separators, duplicates, blanks, separators only, IDs at
    the length limit, stray characters, and lists around a thousand entries."""
    item = st.one_of(
        good,
        good,
        st.integers(98, 102).map(lambda length: "m" * length),
        st.text(ANY_CHARACTER, min_size=1, max_size=20),
    )
    typed = st.lists(st.tuples(item, SEPARATOR), max_size=10).map(lambda pairs: "".join(a + b for a, b in pairs))
    with_duplicate = st.lists(good, min_size=1, max_size=6).flatmap(
        lambda ids: st.permutations([*ids, ids[0]]).map(" ".join)
    )
    separators_only = st.lists(SEPARATOR, max_size=5).map("".join)
    huge = st.sampled_from([199, 200, 201, 999, 1000, 1001]).map(lambda n: "\n".join(f"id_{i}" for i in range(n)))
    return st.one_of(typed, with_duplicate, separators_only, huge, st.text(ANY_CHARACTER, max_size=60))


def split_ids(value: str) -> list[str]:
    """IDs separated by commas, spaces or new lines (DESIGN.md: operator contract)."""
    return [part for part in LIST_SEPARATORS.split(value) if part]


def merchant_ids_are_acceptable(value: str) -> bool:
    """Non-empty, unique, at most 1,000, each of letters, digits, `_` and `-` up to 100 characters."""
    ids = split_ids(value)
    return 0 < len(ids) <= 1000 and len(set(ids)) == len(ids) and all(MERCHANT_ID.fullmatch(item) for item in ids)


HEX = "0123456789abcdefABCDEF"
OBJECT_ID = re.compile(r"[0-9a-fA-F]{24}")


def website_ids() -> st.SearchStrategy[str]:
    """ObjectIds, and strings that are nearly ObjectIds (a character short or over, not hex,
    padded, wrapped) or nothing like one."""
    good = st.text(st.sampled_from(HEX), min_size=24, max_size=24)
    near = st.integers(0, 30).flatmap(lambda n: st.text(st.sampled_from(HEX), min_size=n, max_size=n))
    one_wrong = st.tuples(
        st.text(st.sampled_from(HEX), min_size=23, max_size=23), st.sampled_from("gGzZ-_ xé0"), st.integers(0, 23)
    ).map(lambda parts: parts[0][: parts[2]] + parts[1] + parts[0][parts[2] :])
    wrapped = st.tuples(st.sampled_from(["", " ", "ObjectId(", "\n", '"']), good, st.sampled_from(["", " ", ")", "\n"]))
    return st.one_of(good, near, one_wrong, wrapped.map("".join), st.text(ANY_CHARACTER, max_size=40))


INTERVAL_RANGE = range(30, 86_400 + 1)  # the credentials forms: at least 30 s, at most a day


def intervals() -> st.SearchStrategy[str]:
    """Poll intervals as typed: at and around both bounds, zero, negative, huge, decimals, words."""
    numbers = st.one_of(
        st.integers(25, 35),
        st.integers(86_395, 86_405),
        st.integers(-(10**20), 10**20),
        st.sampled_from([0, -1, 2**31, 2**63]),
    )
    return st.one_of(
        numbers.map(str),
        st.sampled_from(["", "soon", "30.5", "1e3", "0x1e", "٣٠", " 60 "]),
        st.text(ANY_CHARACTER, max_size=12),
    )


def visible_ascii(value: str) -> bool:
    """What an HTTP header can carry as a credential: printable ASCII without spaces."""
    return bool(value) and all("!" <= char <= "~" for char in value)


def secrets(prefix: str) -> st.SearchStrategy[str]:
    """Credentials as pasted: well formed, with spaces, accents, control characters, or too long."""
    tail = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=40)
    return st.one_of(
        tail.map(lambda value: prefix + value),
        st.tuples(PADDING, tail.map(lambda value: prefix + value), PADDING).map("".join),
        st.tuples(tail, st.sampled_from([" ", "é", "€", "\u200b", "\x01", "\t", "ü"]), tail).map(
            lambda parts: prefix + "".join(parts)
        ),
        st.integers(495, 505).map(lambda length: prefix + "x" * (length - len(prefix))),
        st.text(ANY_CHARACTER, max_size=40),
    )


# --- pages ---------------------------------------------------------------------------------------


def error_shown_beside(html: str, field: str) -> bool:
    """The error is rendered under its field, and the field points screen readers at it."""
    error_id = f"id_{field}_error"
    tag = re.search(rf'<(?:input|select|textarea)[^>]*\bid="id_{field}"[^>]*>', html)
    return (
        f'id="{error_id}"' in html
        and tag is not None
        and 'aria-invalid="true"' in tag.group(0)
        and re.search(rf'aria-describedby="[^"]*\b{error_id}\b', tag.group(0)) is not None
    )
