"""Times in words, shared by pages, emails and the status JSON."""

from __future__ import annotations

from datetime import timedelta


def age_words(delta: timedelta) -> str:
    seconds = int(abs(delta.total_seconds()))
    if seconds < 60:
        amount = "under a minute" if seconds >= 5 else "just now"
        if amount == "just now":
            return amount
    elif seconds < 3600:
        amount = f"{seconds // 60} min"
    elif seconds < 86400 * 2:
        amount = f"{seconds // 3600} h {seconds % 3600 // 60} min" if seconds < 86400 else f"{seconds // 3600} h"
    else:
        amount = f"{seconds // 86400} days"
    return f"in {amount}" if delta.total_seconds() < 0 else f"{amount} ago"


def duration_words(spent: timedelta) -> str:
    """How long something lasted ("3 h 5 min", "under a minute"), in `age_words`' units."""
    return age_words(spent).removesuffix(" ago") if spent >= timedelta(minutes=1) else "under a minute"
