"""The sections of a configuration file: one small class per kind of row, listed in
`registry.SECTIONS` (channels, silences and windows are in `alerting`).

A section says which rows it covers (through the scope), how a row is written (`represent`), the
fields an entry has, what other entries it refers to, and how an entry is saved. Everything else
(reading, comparing, reporting, applying in one transaction) is shared, in `service`. Sections
are applied in the order of `SECTIONS` (what an entry refers to comes first) and removed in the
reverse order. Adding a kind of row is one class and one line in `SECTIONS`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import ValidationError
from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from integrations_app.chargebackstop.forms import MAX_ORGANISATION_IDS, ChargebackStopKeyForm
from integrations_app.chargebackstop.models import KeyLevel
from integrations_app.config import fields as f
from integrations_app.config.yamlio import Node
from integrations_app.datafast.client import OBJECT_ID
from integrations_app.datafast.models import dft_token_validator, lock_watched_websites, websites_changed
from integrations_app.models import (
    ChargebackStopKey,
    ClientLink,
    DataFastAccount,
    DataFastSite,
    Integration,
    KeyOrganisation,
    LinkState,
    Membership,
    Organisation,
    Project,
    Role,
)
from integrations_app.models.projects import validate_time_zone
from integrations_app.scoping import Scope
from integrations_app.upstream.secret import Secret

Ref = tuple[str, str, Any]  # (field, section name, key): an entry refers to another section's entry

INTERVAL = f.optional(f.whole(30, 86_400 * 7))
MAX_MEMBERS = 1_000


def _time_zone(node: Node) -> str:
    value: str = f.text(64)(node)
    try:
        validate_time_zone(value)
    except ValidationError as error:
        raise f.Invalid(" ".join(error.messages)) from None
    return value


class Context:
    """What applying an import needs to find the rows an entry refers to: the rows this import
    saved, else one query per section the first time it is asked (never for a section nothing
    refers to: loading thousands of websites back just after inserting them cost seconds)."""

    def __init__(self, sections: Iterable[Section]) -> None:
        self.sections = {section.name: section for section in sections}
        self._rows: dict[str, dict[Any, Any]] = {}
        self._saved: dict[str, dict[Any, Any]] = {}
        # Rows an entry may name that no section writes (the import looks them up once).
        self.users: dict[str, User] = {}
        self.integrations: dict[str, Integration] = {}
        # Who imports, and when: a silence's author, and whoever ends what `--prune` removes.
        self.user: User | AnonymousUser = AnonymousUser()
        self.now = timezone.now()

    def get(self, section: str, key: Any) -> Any:
        owner = self.sections[section]
        key = owner.normal(key)
        saved = self._saved.get(section, {})
        if key in saved:
            return saved[key]
        if section not in self._rows:
            self._rows[section] = {owner.key_of(owner.represent(row)): row for row in owner.all_rows()}
        return self._rows[section][key]

    def saved(self, section: str, key: Any, row: Any) -> None:
        self._saved.setdefault(section, {})[key] = row


class Section:
    name: ClassVar[str]  # the key in the file
    noun: ClassVar[str]  # "website", in messages
    identity: ClassVar[str]  # the field that names an entry
    fields: ClassVar[dict[str, f.Field]]
    case_insensitive: ClassVar[bool] = False  # names compared ignoring case, as the forms do
    removable: ClassVar[bool] = True  # `--prune` may delete rows the file does not list
    secret_noun: ClassVar[str] = ""  # "token": the row has a secret
    # Fields a new row takes but an existing one never compares or changes (a silence's author).
    uncompared: ClassVar[frozenset[str]] = frozenset()

    def rows(self, scope: Scope) -> QuerySet[Any]:
        raise NotImplementedError

    def all_rows(self) -> QuerySet[Any]:
        from integrations_app.scoping import EVERYTHING

        return self.rows(EVERYTHING)

    def represent(self, row: Any) -> dict[str, Any]:
        """The row as the file writes it (without its secret), fields in the order of `fields`."""
        raise NotImplementedError

    def normal(self, value: Any) -> Any:
        return value.casefold() if self.case_insensitive and isinstance(value, str) else value

    def key_of(self, values: dict[str, Any]) -> Any:
        return self.normal(values[self.identity])

    def describe(self, values: dict[str, Any]) -> str:
        return f"{self.noun} “{values[self.identity]}”"

    def references(self, values: dict[str, Any]) -> list[Ref]:
        return []

    def provides(self, values: dict[str, Any]) -> list[tuple[str, Any]]:
        """Entries of other sections this one creates when saved (a key's organisations)."""
        return []

    def skipped(self, values: dict[str, Any]) -> str | None:
        """Why the import skips this entry without error (a silence that has ended since the file
        was written: history, not configuration), or None."""
        return None

    def check(self, values: dict[str, Any]) -> list[tuple[str, str]]:
        """Rules across fields, when the file is read: (field, message). May put values in their
        canonical form (a time in UTC), so that comparing with the database is exact."""
        return []

    def validate(self, values: dict[str, Any], secret: Secret | None, row: Any | None) -> list[tuple[str, str]]:
        """Rules that need the row the entry changes or its secret (a channel's form)."""
        return []

    def save(self, row: Any | None, values: dict[str, Any], secret: Secret | None, context: Context) -> Any:
        raise NotImplementedError

    def add_many(self, entries: list[dict[str, Any]], context: Context) -> list[Any] | None:
        """New rows in a few INSERTs, in the order given, for a section whose rows have no secret
        and nothing else to save; None: the section saves its rows one by one."""
        return None

    def delete(self, row: Any, context: Context) -> None:
        row.delete()

    def secret_of(self, row: Any) -> Secret:
        secret: Secret = row.secret
        return secret

    def check_secret(self, value: str) -> str | None:
        return None


class Accounts(Section):
    name, noun, identity, case_insensitive, secret_noun = "accounts", "DataFast account", "name", True, "token"
    fields = {"name": f.Field(f.name())}

    def rows(self, scope: Scope) -> QuerySet[DataFastAccount]:
        return scope.filter(DataFastAccount.objects.order_by("name"))

    def represent(self, row: DataFastAccount) -> dict[str, Any]:
        return {"name": row.name}

    def check_secret(self, value: str) -> str | None:
        try:
            dft_token_validator(value)
        except ValidationError as error:
            return " ".join(error.messages)
        return None

    def save(
        self, row: DataFastAccount | None, values: dict[str, Any], secret: Secret | None, context: Context
    ) -> DataFastAccount:
        row = row or DataFastAccount()
        row.name = values["name"]
        if secret is not None:
            row.set_secret(secret.reveal())
        row.save()
        return row


class Keys(Section):
    name, noun, identity, case_insensitive, secret_noun = "keys", "ChargebackStop key", "name", True, "API key"
    fields = {
        "name": f.Field(f.name()),
        "level": f.Field(f.choice(list(KeyLevel.values))),
        "enabled": f.Field(f.boolean, required=False, default=True),
        "poll_interval_seconds": f.Field(INTERVAL, required=False),
        # Organisations entered by hand (those learnt by polling come and go with the listing).
        "organisations": f.Field(f.id_list("organisation ID", MAX_ORGANISATION_IDS), required=False, default=[]),
    }

    def rows(self, scope: Scope) -> QuerySet[ChargebackStopKey]:
        manual = KeyOrganisation.objects.filter(source=KeyOrganisation.Source.MANUAL).select_related("organisation")
        return scope.filter(
            ChargebackStopKey.objects.order_by("name").prefetch_related(
                Prefetch("keyorganisation_set", queryset=manual, to_attr="manual_links")
            )
        )

    def represent(self, row: ChargebackStopKey) -> dict[str, Any]:
        links: list[KeyOrganisation] = getattr(row, "manual_links", [])
        return {
            "name": row.name,
            "level": row.level,
            "enabled": row.enabled,
            "poll_interval_seconds": row.poll_interval_seconds,
            "organisations": sorted(link.organisation.organisation_id for link in links),
        }

    def provides(self, values: dict[str, Any]) -> list[tuple[str, Any]]:
        return [("organisations", organisation_id) for organisation_id in values["organisations"]]

    def check(self, values: dict[str, Any]) -> list[tuple[str, str]]:
        if values["level"] == "organisation" and len(values["organisations"]) > 1:
            return [("organisations", "an organisation-level key reaches one organisation: list at most one")]
        return []

    def save(
        self, row: ChargebackStopKey | None, values: dict[str, Any], secret: Secret | None, context: Context
    ) -> ChargebackStopKey:
        row = row or ChargebackStopKey()
        for name in ("name", "level", "enabled", "poll_interval_seconds"):
            setattr(row, name, values[name])
        if secret is not None:
            row.set_secret(secret.reveal())
        row.save()
        ChargebackStopKeyForm._save_manual_organisations(row, values["organisations"])  # the form's own rule
        return row


class Projects(Section):
    name, noun, identity, case_insensitive = "projects", "project", "name", True
    member_fields: ClassVar[dict[str, f.Field]] = {
        "username": f.Field(f.text(150)),
        "role": f.Field(f.choice(list(Role.values))),
    }
    fields = {
        "name": f.Field(f.name()),
        "time_zone": f.Field(_time_zone, required=False, default="UTC"),
        # null: REMINDER_HOURS; 0: never (as on the project's form)
        "reminder_hours": f.Field(f.optional(f.whole(0, 24 * 7)), required=False, default=None),
        "members": f.Field(f.records(member_fields, "username", MAX_MEMBERS), required=False, default=[]),
    }

    def rows(self, scope: Scope) -> QuerySet[Project]:
        projects = Project.objects.prefetch_related(
            Prefetch("memberships", queryset=Membership.objects.select_related("user").order_by("user__username"))
        )
        return projects if scope.everything else projects.filter(pk__in=scope.projects)

    def represent(self, row: Project) -> dict[str, Any]:
        members = [{"username": m.user.username, "role": m.role} for m in row.memberships.all()]
        return {
            "name": row.name,
            "time_zone": row.time_zone,
            "reminder_hours": row.reminder_hours,
            "members": sorted(members, key=lambda m: m["username"]),
        }

    def references(self, values: dict[str, Any]) -> list[Ref]:
        return [("members", "users", member["username"]) for member in values["members"]]

    def save(self, row: Project | None, values: dict[str, Any], secret: Secret | None, context: Context) -> Project:
        row = row or Project()
        row.name, row.time_zone, row.reminder_hours = values["name"], values["time_zone"], values["reminder_hours"]
        row.save()
        wanted = {member["username"]: member["role"] for member in values["members"]}
        current = {m.user.username: m for m in Membership.objects.filter(project=row).select_related("user")}
        Membership.objects.filter(pk__in=[m.pk for name, m in current.items() if name not in wanted]).delete()
        for username, role in wanted.items():
            membership = current.get(username)
            if membership is None:
                Membership.objects.create(project=row, user=context.users[username], role=role)
            elif membership.role != role:
                membership.role = role
                membership.save(update_fields=["role"])
        return row


class Websites(Section):
    name, noun, identity = "websites", "website", "website_id"
    fields = {
        "website_id": f.Field(f.text(24, pattern=OBJECT_ID, what="a website ID (24 hexadecimal characters)")),
        "name": f.Field(f.name()),
        # The operator named it: discovery keeps the name instead of the one DataFast lists.
        "name_is_custom": f.Field(f.boolean, required=False, default=False),
        "account": f.Field(f.name()),
        "project": f.Field(f.optional(f.name()), required=False),
        "enabled": f.Field(f.boolean, required=False, default=True),
        "poll_interval_seconds": f.Field(INTERVAL, required=False),
    }

    def rows(self, scope: Scope) -> QuerySet[DataFastSite]:
        return scope.filter(DataFastSite.objects.select_related("account", "project").order_by("website_id"))

    def represent(self, row: DataFastSite) -> dict[str, Any]:
        return {
            "website_id": row.website_id,
            "name": row.name,
            "name_is_custom": row.name_is_custom,
            "account": row.account.name,
            "project": row.project.name if row.project else None,
            "enabled": row.enabled,
            "poll_interval_seconds": row.poll_interval_seconds,
        }

    def describe(self, values: dict[str, Any]) -> str:
        return f"website “{values['name']}” ({values['website_id']})"

    def references(self, values: dict[str, Any]) -> list[Ref]:
        refs: list[Ref] = [("account", "accounts", values["account"])]
        if values["project"] is not None:
            refs.append(("project", "projects", values["project"]))
        return refs

    def save(
        self, row: DataFastSite | None, values: dict[str, Any], secret: Secret | None, context: Context
    ) -> DataFastSite:
        row = self._fill(row or DataFastSite(website_id=values["website_id"]), values, context)
        row.save()
        return row

    def add_many(self, entries: list[dict[str, Any]], context: Context) -> list[DataFastSite]:
        """An agency's thousands of websites: a row at a time was most of an import's time."""
        rows = [self._fill(DataFastSite(website_id=values["website_id"]), values, context) for values in entries]
        for row in rows:
            row.derive_problem()  # what save() does, which bulk_create does not call
        lock_watched_websites()  # what saving each would have taken first (their pre_save)
        created = DataFastSite.objects.bulk_create(rows, batch_size=500)
        websites_changed()  # what saving each would have signalled; after the rows, never before
        return created

    @staticmethod
    def _fill(row: DataFastSite, values: dict[str, Any], context: Context) -> DataFastSite:
        for name in ("name", "name_is_custom", "enabled", "poll_interval_seconds"):
            setattr(row, name, values[name])
        row.account = context.get("accounts", values["account"])
        row.project = None if values["project"] is None else context.get("projects", values["project"])
        return row


class Organisations(Section):
    """Organisations are learnt from the keys' listings: an import labels them and puts them in
    projects, and creates the ones it names, but never deletes one."""

    name, noun, identity, removable = "organisations", "organisation", "organisation_id", False
    fields = {
        "organisation_id": f.Field(f.upstream_id("an organisation ID")),
        "label": f.Field(f.text(100, blank=True), required=False, default=""),
        "project": f.Field(f.optional(f.name()), required=False),
    }

    def rows(self, scope: Scope) -> QuerySet[Organisation]:
        return scope.filter(Organisation.objects.select_related("project").order_by("organisation_id"))

    def represent(self, row: Organisation) -> dict[str, Any]:
        return {
            "organisation_id": row.organisation_id,
            "label": row.label,
            "project": row.project.name if row.project else None,
        }

    def references(self, values: dict[str, Any]) -> list[Ref]:
        return [] if values["project"] is None else [("project", "projects", values["project"])]

    def save(
        self, row: Organisation | None, values: dict[str, Any], secret: Secret | None, context: Context
    ) -> Organisation:
        if row is None:  # a key saved earlier in this import may have created it
            row, _ = Organisation.objects.get_or_create(organisation_id=values["organisation_id"])
        row.label = values["label"]
        row.project = None if values["project"] is None else context.get("projects", values["project"])
        row.save(update_fields=["label", "project"])
        return row


class Links(Section):
    """One client, two vendors: a website and the organisation it is linked to (one per website)."""

    name, noun, identity = "links", "link", "website"
    fields = {
        "website": f.Field(f.text(24, pattern=OBJECT_ID, what="a website ID (24 hexadecimal characters)")),
        "organisation": f.Field(f.upstream_id("an organisation ID")),
    }

    def rows(self, scope: Scope) -> QuerySet[ClientLink]:
        links = ClientLink.objects.filter(state=LinkState.CONFIRMED).select_related("site", "organisation")
        return scope.filter(links.order_by("site__website_id"))

    def represent(self, row: ClientLink) -> dict[str, Any]:
        return {"website": row.site.website_id, "organisation": row.organisation.organisation_id}

    def describe(self, values: dict[str, Any]) -> str:
        return f"link of website {values['website']} to organisation {values['organisation']}"

    def references(self, values: dict[str, Any]) -> list[Ref]:
        return [("website", "websites", values["website"]), ("organisation", "organisations", values["organisation"])]

    def save(self, row: ClientLink | None, values: dict[str, Any], secret: Secret | None, context: Context) -> Any:
        site = context.get("websites", values["website"])
        organisation = context.get("organisations", values["organisation"])
        ClientLink.objects.filter(site=site, state=LinkState.CONFIRMED).exclude(organisation=organisation).delete()
        link, _ = ClientLink.objects.update_or_create(
            site=site, organisation=organisation, defaults={"state": LinkState.CONFIRMED}
        )
        return link
