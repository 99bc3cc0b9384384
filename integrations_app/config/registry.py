"""Every section of a configuration file, in the order they are applied: what an entry refers to
comes before it (removals run in the reverse order)."""

from __future__ import annotations

from integrations_app.config.alerting import Channels, Silences, Windows
from integrations_app.config.sections import Accounts, Keys, Links, Organisations, Projects, Section, Websites

SECTIONS: list[Section] = [
    Accounts(),
    Keys(),
    Projects(),
    Websites(),
    Organisations(),
    Links(),
    Channels(),
    Silences(),
    Windows(),
]
