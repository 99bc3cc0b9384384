"""Linking a client's DataFast websites to its ChargebackStop organisation: suggestions by name
and domain, and the staff decisions (confirm, dismiss, unlink), each audited.

Suggestions compare *normalised* words: lowercase, accents and punctuation dropped, `www.` and
the top-level domain stripped from a domain, and words every company name has ("Ltd", "Group",
"Store") left out. A website and an organisation are suggested when their words are the same
("Acme Store" and "acme-store.com" and "ACME Store Ltd"), or when they share enough of them
(Jaccard ≥ `THRESHOLD`). Matching goes through an index of words to organisations, so its cost
grows with the number of rows, not with their product; a word shared by more than
`COMMON_WORD_LIMIT` organisations says nothing and is not indexed.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction
from django.utils import timezone

from integrations_app import audit
from integrations_app.models import ClientLink, DataFastSite, LinkState, Organisation
from integrations_app.scoping import Scope

THRESHOLD = 0.5
COMMON_WORD_LIMIT = 25
# Words that name the kind of company rather than the company.
FILLER = frozenset(
    [
        "the",
        "and",
        "of",
        "inc",
        "ltd",
        "llc",
        "llp",
        "plc",
        "gmbh",
        "ag",
        "sa",
        "sas",
        "sarl",
        "bv",
        "nv",
        "co",
        "corp",
        "company",
        "limited",
        "group",
        "holdings",
        "store",
        "shop",
        "online",
        "official",
        "site",
        "app",
    ]
)
# Second-level labels of country domains ("co" in acme.co.uk).
SECOND_LEVEL = frozenset({"co", "com", "org", "net", "ac", "gov", "edu", "ltd", "plc"})
_NOT_WORD = re.compile(r"[^0-9a-z]+")


def _ascii_lower(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def domain_stem(domain: str) -> str:
    """`www.Acme-Store.co.uk` → `acme-store`: the part of a domain that names the business."""
    labels = [label for label in _ascii_lower(domain).strip().strip(".").split(".") if label]
    if labels and labels[0] == "www":
        labels = labels[1:]
    if len(labels) >= 2:
        labels = labels[:-1]  # the top-level domain
        if len(labels) >= 2 and labels[-1] in SECOND_LEVEL:
            labels = labels[:-1]
    return " ".join(labels)


def words(text: str) -> tuple[str, ...]:
    """The significant words of a name, normalised, in order."""
    return tuple(word for word in _NOT_WORD.split(_ascii_lower(text)) if word and word not in FILLER)


def keys_of(*names: str) -> tuple[frozenset[str], frozenset[str]]:
    """(words, whole names run together) of a thing known by these names: `Acme Store` and
    `acmestore.com` share the whole name `acmestore`."""
    found_words: set[str] = set()
    wholes: set[str] = set()
    for name in names:
        significant = words(name)
        found_words.update(significant)
        if significant:
            wholes.add("".join(significant))
    return frozenset(found_words), frozenset(wholes)


def organisation_name(label: str, name: str, organisation_id: str) -> str:
    return label or name or organisation_id


@dataclass(frozen=True)
class Suggestion:
    site_pk: int
    site_name: str
    site_domain: str
    organisation_pk: int
    organisation_name: str
    score: float
    reason: str
    organisation_is_test: bool = False  # ChargebackStop lists it in TEST mode: the pages say so


def suggestions(scope: Scope, limit: int | None = None) -> list[Suggestion]:
    """The best organisation for every website in scope that has no link, best first, leaving out
    dismissed pairs: three queries, and work linear in the number of websites and organisations."""
    linked = ClientLink.objects.filter(state=LinkState.CONFIRMED).values("site")
    sites = scope.filter(DataFastSite.objects.exclude(pk__in=linked)).values_list("pk", "name", "domain")
    organisations = scope.filter(Organisation.objects.all()).values_list(
        "pk", "label", "name", "organisation_id", "mode"
    )
    dismissed = set(
        scope.filter(ClientLink.objects.filter(state=LinkState.DISMISSED)).values_list("site_id", "organisation_id")
    )
    by_word: dict[str, list[int]] = defaultdict(list)
    by_whole: dict[str, list[int]] = defaultdict(list)
    org_words: dict[int, frozenset[str]] = {}
    names: dict[int, str] = {}
    tests: set[int] = set()
    for pk, label, name, organisation_id, mode in organisations.order_by():
        if mode == "TEST":
            tests.add(pk)
        found_words, wholes = keys_of(label, name)
        org_words[pk] = found_words
        names[pk] = organisation_name(label, name, organisation_id)
        for word in found_words:
            by_word[word].append(pk)
        for whole in wholes:
            by_whole[whole].append(pk)
    found: list[Suggestion] = []
    for pk, name, domain in sites.order_by():
        site_words, wholes = keys_of(name, domain_stem(domain))
        best: tuple[float, str, int] | None = None
        for whole in wholes:
            for candidate in by_whole.get(whole, ())[:COMMON_WORD_LIMIT]:
                if (pk, candidate) not in dismissed and (best is None or best[0] < 1.0):
                    best = (1.0, "same name" if whole in keys_of(name)[1] else "domain matches the name", candidate)
        if best is None:
            best = _best_by_words(pk, site_words, by_word, org_words, dismissed)
        if best is not None:
            score, reason, candidate = best
            found.append(Suggestion(pk, name, domain, candidate, names[candidate], score, reason, candidate in tests))
    found.sort(key=lambda item: (-item.score, item.site_name.casefold(), item.site_pk))
    return found if limit is None else found[:limit]


def _best_by_words(
    site_pk: int,
    site_words: frozenset[str],
    by_word: dict[str, list[int]],
    org_words: dict[int, frozenset[str]],
    dismissed: set[tuple[int, int]],
) -> tuple[float, str, int] | None:
    candidates: set[int] = set()
    for word in site_words:
        holders = by_word.get(word, ())
        if len(holders) <= COMMON_WORD_LIMIT:
            candidates.update(holders)
    best: tuple[float, str, int] | None = None
    for candidate in sorted(candidates):
        if (site_pk, candidate) in dismissed:
            continue
        shared = site_words & org_words[candidate]
        score = len(shared) / len(site_words | org_words[candidate])
        if score >= THRESHOLD and (best is None or score > best[0]):
            best = (score, "shares " + ", ".join(f"“{word}”" for word in sorted(shared)), candidate)
    return best


# --- decisions -----------------------------------------------------------------------------------


class LinkRefused(Exception):
    """A link that cannot be made, in words for the page."""


def _target(site: DataFastSite) -> str:
    return f"site {site.name} ({site.website_id})"


def _values(organisation: Organisation | None) -> dict[str, Any]:
    return {"organisation": None if organisation is None else organisation.organisation_id}


def link(user: User | AnonymousUser, site: DataFastSite, organisation: Organisation) -> bool:
    """Link the website to the organisation (replacing another link it had); False if it already was."""
    with transaction.atomic():
        current = (
            ClientLink.objects.select_for_update()
            .filter(site=site, state=LinkState.CONFIRMED)
            .select_related("organisation")
            .first()
        )
        if current is not None and current.organisation_id == organisation.pk:
            return False
        before = _values(current.organisation if current else None)
        if current is not None:
            current.delete()
        ClientLink.objects.update_or_create(
            site=site,
            organisation=organisation,
            defaults={"state": LinkState.CONFIRMED, "decided_by": _user(user), "decided_at": timezone.now()},
        )
        audit.record(user, "link.confirm", _target(site), before=before, after=_values(organisation))
    return True


def dismiss(user: User | AnonymousUser, site: DataFastSite, organisation: Organisation) -> None:
    """Never suggest this pair again (an existing link between them is left alone)."""
    with transaction.atomic():
        _, created = ClientLink.objects.get_or_create(
            site=site,
            organisation=organisation,
            defaults={"state": LinkState.DISMISSED, "decided_by": _user(user)},
        )
        if created:
            audit.record(user, "link.dismiss", _target(site), after={"dismissed": organisation.organisation_id})


def unlink(user: User | AnonymousUser, site: DataFastSite) -> bool:
    with transaction.atomic():
        current = (
            ClientLink.objects.select_for_update()
            .filter(site=site, state=LinkState.CONFIRMED)
            .select_related("organisation")
            .first()
        )
        if current is None:
            return False
        current.delete()
        audit.record(user, "link.remove", _target(site), before=_values(current.organisation), after=_values(None))
    return True


def _user(user: User | AnonymousUser) -> User | None:
    return user if isinstance(user, User) else None
