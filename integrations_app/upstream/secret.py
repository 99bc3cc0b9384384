from __future__ import annotations


class Secret:
    """A credential that never shows itself by accident: not in `repr`, `str`, logs or tracebacks.

    Only `reveal()` gives the value, and only the HTTP layer calls it, to build one header.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str) or not value:
            raise ValueError("a secret must be a non-empty string")
        self._value = value

    def reveal(self) -> str:
        return self._value

    @property
    def masked(self) -> str:
        return mask(self._value)

    def __repr__(self) -> str:
        return f"Secret({self.masked})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> None:  # type: ignore[override]
        raise TypeError("secrets are not pickled (they would leave the process in clear)")


def mask(value: str) -> str:
    """`••••1234`: the last four characters, and only when the secret is long enough to spare them."""
    tail = value[-4:] if len(value) >= 12 else ""
    return "••••" + tail
