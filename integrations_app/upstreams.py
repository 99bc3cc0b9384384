"""The upstreams Paystatus watches, one line each. Dispatch, history rows, words, pages and commands
ask this table which upstreams there are and which one a row belongs to, instead of testing types.

Each upstream is a package, `integrations_app/<package>/`, holding everything it needs: `client.py`,
`models.py` (its polled source and current-state rows), `poller.py`, `forms.py`, `words.py` (the
sentences for its errors and changes), `check.py` (the credential check) and `admin.py`. Adding one
is a package, a line here and a migration: see docs/adding-an-upstream.md.

Entries name their modules by path and import them on first use: the pollers import the models,
the shared polling code imports this table, and nothing here may import them back at load time.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from importlib import import_module
from typing import TYPE_CHECKING, Any, Protocol, cast

from django.apps import apps
from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from django.db.models import Model

    from integrations_app.models import StatusChange
    from integrations_app.models.sources import HasSecret, PolledSource
    from integrations_app.polling.outcome import PollOutcome


class Words(Protocol):
    """What an upstream's `words` module provides; mypy checks each one against it (`_WORDS` below)."""

    HEALTH: dict[str, str]  # a source's health moves (StatusChange.new), with {name}
    # The causes many changes fold into (alerts/folding.py): "credential", "outage" and their
    # "…_recovery", with {credential}, {sources} ("7 websites") and {names}.
    CAUSES: dict[str, str]
    ERRORS: dict[str, str]  # "credential", "credential_403", "not_found": words for a poll error

    def disconnected(self, rows: Sequence[Any]) -> dict[int, list[str]]: ...
    def thing(self, change: StatusChange) -> str: ...
    def summary(self, change: StatusChange) -> str | None: ...


@dataclass(frozen=True)
class Upstream:
    name: str  # "DataFast": as sentences say it
    package: str  # integrations_app.<package>
    kind: str  # the source's column on PollAttempt, Snapshot and StatusChange; task arguments, lock names
    source: str  # the polled model
    poller: str  # the poll function, `poll(pk, *, dispatched_at=None) -> PollOutcome | None`
    # StatusChange columns that belong to this upstream, the most specific first: a change links
    # to the first one set (its page), and is this upstream's when any is set.
    change_links: tuple[str, ...]
    # Of those, the rows with a problem state of their own (problems.counts), most specific first.
    problem_links: tuple[str, ...]
    # The rows with a problem state, as the status API and /healthz name and list them: (noun, model).
    problem_rows: tuple[tuple[str, str], ...]
    # The models that hold its credentials (an encrypted `secret`): rotated, and redacted from audits.
    secret_models: tuple[str, ...]
    # Folding (alerts/folding.py): the source's column naming the credential it shares with other
    # sources ("" when the source is its own credential), and what a credential reaches: its
    # relation and the noun for one (a DataFast token's websites, a key's organisations).
    credential_link: str = ""
    reach: tuple[str, str] = ("", "")
    # Optional: polls a worker's batch in bulk, `poll_many(pks, *, dispatched_at) -> BatchResult`
    # (datafast/batch.py); without it a batch is polled with `poller`, one source after another.
    batch_poller: str = ""

    @property
    def model(self) -> type[PolledSource]:
        return apps.get_model("integrations_app", self.source)

    @cached_property
    def poll(self) -> Callable[..., PollOutcome | None]:
        poll: Callable[..., PollOutcome | None] = import_string(self.poller)
        return poll

    @cached_property
    def poll_many(self) -> Callable[..., Any] | None:
        return import_string(self.batch_poller) if self.batch_poller else None

    @cached_property
    def words(self) -> Words:
        """`integrations_app.<package>.words`: HEALTH, ERRORS, thing() and summary() of its changes."""
        return cast("Words", import_module(f"integrations_app.{self.package}.words"))

    @property
    def source_noun(self) -> str:
        """ "website", "key": what one of its polled sources is called."""
        return next(noun for noun, name in self.problem_rows if name == self.source)

    def problem_models(self) -> list[tuple[str, type[Model]]]:
        return [(noun, apps.get_model("integrations_app", name)) for noun, name in self.problem_rows]

    def last_error(self, source: PolledSource) -> str:
        """The source's last poll error in this upstream's words ("" when the last poll was fine)."""
        from integrations_app.upstream.words import last_error

        return last_error(source, self.name, self.words.ERRORS)


UPSTREAMS: tuple[Upstream, ...] = (
    Upstream(
        "DataFast",
        "datafast",
        kind="site",
        source="DataFastSite",
        poller="integrations_app.datafast.poller.poll_site",
        change_links=("site",),
        problem_links=("site",),
        problem_rows=(("website", "DataFastSite"),),
        secret_models=("DataFastAccount",),
        credential_link="account",
        reach=("sites", "website"),
        batch_poller="integrations_app.datafast.batch.poll_sites",
    ),
    Upstream(
        "ChargebackStop",
        "chargebackstop",
        kind="key",
        source="ChargebackStopKey",
        poller="integrations_app.chargebackstop.poller.poll_key",
        change_links=("integration", "organisation", "key"),
        problem_links=("organisation", "key"),
        problem_rows=(("key", "ChargebackStopKey"), ("organisation", "Organisation")),
        secret_models=("ChargebackStopKey",),
        reach=("organisations", "organisation"),
    ),
)
BY_KIND = {upstream.kind: upstream for upstream in UPSTREAMS}
# Every upstream column of a history row, for select_related and grouping.
CHANGE_LINKS = tuple(link for upstream in UPSTREAMS for link in upstream.change_links)
SOURCE_LINKS = tuple(upstream.kind for upstream in UPSTREAMS)


def secret_models() -> list[type[HasSecret]]:
    """Every model that holds a credential, of every upstream."""
    return [apps.get_model("integrations_app", name) for upstream in UPSTREAMS for name in upstream.secret_models]


def of(source: Any) -> Upstream:
    """The upstream a polled source (a row of one of the `source` models) belongs to."""
    for upstream in UPSTREAMS:
        if type(source) is upstream.model:
            return upstream
    raise LookupError(f"{type(source).__name__} is not the source model of any upstream")


def of_model(model: type[Model]) -> Upstream:
    """The upstream whose problem rows (`problem_rows`) include `model`."""
    for upstream in UPSTREAMS:
        if any(model is row_model for _, row_model in upstream.problem_models()):
            return upstream
    raise LookupError(f"{model.__name__} has no problem state in any upstream")


def of_change(change: StatusChange) -> Upstream:
    """The upstream a state change belongs to: the first whose columns it sets."""
    for upstream in UPSTREAMS:
        if any(getattr(change, f"{link}_id") is not None for link in upstream.change_links):
            return upstream
    raise LookupError(f"state change {change.pk} links to no upstream")


def links(source: Any) -> dict[str, Any]:
    """The column values that tie a history row (attempt, snapshot, change) to `source`."""
    return {of(source).kind: source}


if TYPE_CHECKING:
    from integrations_app.chargebackstop import words as chargebackstop_words
    from integrations_app.datafast import words as datafast_words

    # For the type checker only: each upstream's words module must provide `Words`.
    _WORDS: tuple[Words, ...] = (datafast_words, chargebackstop_words)
