"""`text.one_line`'s fast path for printable text gives what its character-by-character rule gives."""

from __future__ import annotations

import sys

from hypothesis import given
from hypothesis import strategies as st

from integrations_app.text import _cleaned, one_line
from tests.properties import examples

# Any code point, lone surrogates included; and pieces of hostile or unusual text.
ANY_CODE_POINT = st.characters(codec=None, categories=None)
TRICKY = st.sampled_from(
    [
        *" \t\n\r\x00\x1f\x85\xa0\u2028\u2029\u200b\u202e\u2066\u3000\u2003\ufeff\ud800\ue000\U000e0041é🙂aZ",
        "  ",
        "e\u0301",
        "אב",
    ]
)


def test_every_printable_code_point_is_kept_as_is_and_only_the_space_is_whitespace():
    """The fast path's premise, over the whole of Unicode (as this Python knows it)."""
    for point in range(sys.maxunicode + 1):
        char = chr(point)
        if char.isprintable():
            assert _cleaned(f"a{char}b") == f"a{char}b" or char == " ", hex(point)
            assert not char.isspace() or char == " ", hex(point)


@examples(500)
@given(
    text=st.lists(st.one_of(ANY_CODE_POINT, TRICKY), max_size=40).map("".join),
    limit=st.none() | st.integers(1, 40),
)
def test_one_line_equals_its_character_by_character_rule(text, limit):
    expected = _cleaned(text)
    if limit is not None and len(expected) > limit:
        expected = expected[: limit - 1] + "…"
    assert one_line(text, limit) == expected


@examples(300)
@given(text=st.text(st.sampled_from(["a", "b", " ", "é", "🙂", "\xa0", "\u3000"]), max_size=30))
def test_printable_text_with_runs_of_spaces_collapses_like_the_rule(text):
    assert one_line(text) == _cleaned(text)
