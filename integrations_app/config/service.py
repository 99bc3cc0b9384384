"""Export and import of the configuration file.

- **Export** goes through the scope (`integrations_app.scoping`): staff-wide users and the commands
  write everything; a scoped user would get only their projects' rows. Entries are sorted by their
  identity, so the same configuration always gives the same bytes.
- **Import** first reads and checks the whole file, then compares it with the database into a plan
  (what it adds, changes and removes, each named with its line), and applies the plan only when
  no entry is invalid, in one transaction: a file is applied entirely or not at all. Importing the
  same file twice changes nothing the second time. Rows the file does not list are kept unless
  `prune` is asked for (and organisations, learnt from the keys, are never deleted).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db import DatabaseError, IntegrityError
from django.views.decorators.debug import sensitive_variables

from integrations_app import audit
from integrations_app.config import fields as f
from integrations_app.config import yamlio
from integrations_app.config.registry import SECTIONS
from integrations_app.config.secrets import Box, PassphraseError, new_box, open_box
from integrations_app.config.sections import Context, Section
from integrations_app.models import Integration
from integrations_app.models.secret_field import SecretUnreadable
from integrations_app.polling.write_queue import write_transaction
from integrations_app.scoping import EVERYTHING, Scope
from integrations_app.upstream.secret import Secret

VERSION = 1
SECRET = "secret"  # noqa: S105 (the field's name)
# What an entry may name that no section writes: looked up in the database only, once per import
# (the section, then the field it is known by and its noun in messages).
LOOKUPS: dict[str, tuple[type[Any], str, str]] = {
    "users": (User, "username", "user"),
    "integrations": (Integration, "integration_id", "integration (learnt by polling)"),
}


class ExportError(Exception):
    """The configuration cannot be exported as asked, in words."""


def export_document(scope: Scope, box: Box | None = None) -> dict[str, Any]:
    document: dict[str, Any] = {"version": VERSION}
    if box is not None:
        document["secrets"] = box.header
    for section in SECTIONS:
        entries = []
        for row in section.rows(scope):
            values = section.represent(row)
            if box is not None and section.secret_noun:
                try:
                    values[SECRET] = {"encrypted": box.seal(section.secret_of(row).reveal())}
                except SecretUnreadable:
                    raise ExportError(
                        f"The {section.describe(values)} has a secret no key in FIELD_ENCRYPTION_KEYS opens: "
                        "export without --with-secrets, or enter the secret again first."
                    ) from None
            entries.append(values)
        document[section.name] = entries
    return document


@sensitive_variables("passphrase")
def export_config(scope: Scope, passphrase: str | None = None) -> str:
    """The configuration file; with a passphrase, the secrets too, encrypted under it."""
    try:
        box = None if passphrase is None else new_box(passphrase)
    except PassphraseError as error:
        raise ExportError(f"Cannot encrypt the secrets: {error}.") from None
    return yamlio.dump(export_document(scope, box))


# --- import --------------------------------------------------------------------------------------


@dataclass
class Item:
    """One line of the report: what the import adds, changes or removes (or keeps: not listed)."""

    action: str  # add / change / remove / keep
    section: str
    words: str
    line: int | None = None
    fields: list[str] = field(default_factory=list)


@dataclass
class Report:
    items: list[Item] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    dry_run: bool = False
    applied: bool = False

    def count(self, action: str) -> int:
        return sum(1 for item in self.items if item.action == action)

    @property
    def changes(self) -> list[Item]:
        return [item for item in self.items if item.action != "keep"]

    def plan(self) -> list[tuple[str, str, str, tuple[str, ...]]]:
        """What the import changes, to compare a preview with the import that follows it."""
        return [(item.action, item.section, item.words, tuple(item.fields)) for item in self.changes]

    def summary(self) -> str:
        if self.errors:
            return f"Refused: {len(self.errors)} problem{'s' if len(self.errors) != 1 else ''}; nothing was changed."
        counts = f"add {self.count('add')}, change {self.count('change')}, remove {self.count('remove')}"
        if self.dry_run:
            return f"Dry run: would {counts}; nothing was changed."
        if not self.changes:
            return "Nothing to change: the database already matches the file."
        return f"Imported: {counts.replace('add', 'added').replace('change', 'changed').replace('remove', 'removed')}."

    def lines(self) -> list[str]:
        """The report as text, for the command (the page lays out the same items)."""
        out = [self.summary(), *self.errors, *self.notes]
        marks = {"add": "+", "change": "~", "remove": "-"}
        for item in self.changes:
            where = f" (line {item.line})" if item.line else ""
            what = f": {', '.join(item.fields)}" if item.fields else ""
            out.append(f"  {marks[item.action]} {item.words}{what}{where}")
        kept: dict[str, int] = {}
        for item in self.items:
            if item.action == "keep":
                kept[item.section] = kept.get(item.section, 0) + 1
        for section, count in kept.items():
            noun = next(s.noun for s in SECTIONS if s.name == section)
            out.append(f"  = {count} {noun}{'s' if count != 1 else ''} not in the file, kept" + _keep_reason(section))
        return out


def _keep_reason(section: str) -> str:
    if section == "organisations":
        return " (organisations are learnt from the keys and never deleted by an import)"
    return " (--prune removes them)"


@dataclass
class Step:
    section: Section
    key: Any
    row: Any
    values: dict[str, Any]
    secret: Secret | None
    remove: bool = False


@dataclass
class Entry:
    section: Section
    position: int
    line: int
    values: dict[str, Any]
    sealed: str | None
    sealed_line: int


class _Plan:
    def __init__(self, passphrase: str | None, prune: bool) -> None:
        self.passphrase, self.prune = passphrase, prune
        self.report = Report()
        self.steps: list[Step] = []
        self.box: Box | None = None
        self.lookups: dict[str, dict[str, Any]] = {}

    def error(self, line: int | None, message: str) -> None:
        self.report.errors.append(f"line {line}: {message}" if line else message)

    # Reading ----------------------------------------------------------------------------------

    def read(self, data: bytes | str) -> dict[str, list[Entry]] | None:
        try:
            root = yamlio.load(data)
        except yamlio.FileRefused as refused:
            self.error(None, str(refused))
            return None
        if not isinstance(root.value, dict):
            self.error(root.line, f"the file must be a mapping of sections, not {root.kind()}.")
            return None
        top: dict[str, yamlio.Node] = root.value
        version = top.get("version")
        number = None if version is None or isinstance(version.value, bool) else version.value
        if isinstance(number, int) and number > VERSION:
            # A newer format may mean anything by its fields: read none of them.
            self.error(
                version.line if version else None,
                f"version: this file is format version {number}, written by a newer Paystatus; this one reads "
                f"version {VERSION}. Import it with the newer Paystatus, or export it again from this one.",
            )
            return None
        if number != VERSION:
            self.error(version.line if version else root.line, f"version: must be {VERSION}.")
        known = ["version", "secrets", *(section.name for section in SECTIONS)]
        for name, node in top.items():
            if name not in known:
                self.error(node.line, f"unknown section “{name}” (expected {', '.join(known)}).")
        found: dict[str, list[Entry]] = {}
        for section in SECTIONS:
            if section.name in top:
                found[section.name] = self._entries(section, top[section.name])
        self._open_secrets(top.get("secrets"), found)
        return None if self.report.errors else found

    def _entries(self, section: Section, node: yamlio.Node) -> list[Entry]:
        if not isinstance(node.value, list):
            self.error(node.line, f"{section.name}: expected a list of entries, got {node.kind()}.")
            return []
        entries: list[Entry] = []
        seen: dict[Any, int] = {}
        for position, listed in enumerate(node.value):
            label = f"{section.name}[{position + 1}]"
            item, sealed, sealed_line = listed, None, listed.line
            if section.secret_noun and isinstance(listed.value, dict) and SECRET in listed.value:
                item = yamlio.Node(dict(listed.value), listed.line)
                secret_node = item.value.pop(SECRET)
                sealed_line = secret_node.line
                sealed = self._sealed(secret_node, label)
            try:
                values = f.read_mapping(item, section.fields)
            except f.Invalid as invalid:
                self.error(invalid.line or item.line, f"{_named(label, section, item)}: {invalid.message}.")
                continue
            label = f"{label} ({section.describe(values)})"
            if reason := section.skipped(values):
                self.report.notes.append(f"line {item.line}: {label}: {reason}.")
                continue
            self._errors(item.line, label, section.check(values))
            key = section.key_of(values)
            if key in seen:
                self.error(item.line, f"{label}: listed twice (also on line {seen[key]}).")
                continue
            seen[key] = item.line
            entries.append(Entry(section, position, item.line, values, sealed, sealed_line))
        return entries

    def _errors(self, line: int, label: str, problems: list[tuple[str, str]]) -> None:
        for name, message in problems:
            self.error(line, f"{label}: {name + ': ' if name else ''}{message}.")

    def _sealed(self, node: yamlio.Node, label: str) -> str | None:
        if isinstance(node.value, str):
            self.error(
                node.line,
                f"{label}: secret: written in clear, and a file holds secrets only encrypted. Export the file with "
                "--with-secrets to have them encrypted under a passphrase, or leave the secret out and enter it "
                "in the dashboard.",
            )
            return None
        encrypted = node.value.get("encrypted") if isinstance(node.value, dict) else None
        if not isinstance(node.value, dict) or set(node.value) != {"encrypted"} or encrypted is None:
            self.error(node.line, f"{label}: secret: expected a mapping with one field, encrypted.")
            return None
        if not isinstance(encrypted.value, str) or not encrypted.value:
            self.error(encrypted.line, f"{label}: secret.encrypted: expected the encrypted text.")
            return None
        return encrypted.value

    @sensitive_variables("self")
    def _open_secrets(self, header: yamlio.Node | None, found: dict[str, list[Entry]]) -> None:
        sealed = any(entry.sealed for entries in found.values() for entry in entries)
        if header is None:
            if sealed:
                self.error(None, "the file has encrypted secrets but no secrets: header to open them with.")
            return
        if not isinstance(header.value, dict):
            self.error(header.line, "secrets: expected a mapping (kdf, n, r, p, salt, check).")
            return
        if self.passphrase is None:
            if sealed:
                self.report.notes.append(
                    "The file's secrets were not read: no passphrase was given (existing secrets are kept)."
                )
            return
        values = {name: node.value for name, node in header.value.items()}
        try:
            self.box = open_box(values, self.passphrase)
        except PassphraseError as error:
            self.error(header.line, f"secrets: {error}.")

    # Comparing --------------------------------------------------------------------------------

    def compare(self, found: dict[str, list[Entry]]) -> None:
        existing = {section.name: _existing(section) for section in SECTIONS}  # one query or two each
        known = self._known(found, existing)
        refs = self._refs(found)
        for target, (model, field_name, _) in LOOKUPS.items():
            wanted = {key for (section, key) in refs if section == target}
            rows = model.objects.filter(**{f"{field_name}__in": wanted}) if wanted else []
            self.lookups[target] = {getattr(row, field_name): row for row in rows}
            known[target] = set(self.lookups[target])
        for section in SECTIONS:
            for entry in found.get(section.name, []):
                label = f"{section.name}[{entry.position + 1}] ({section.describe(entry.values)})"
                for name, target, key in section.references(entry.values):
                    target_section = next((s for s in SECTIONS if s.name == target), None)
                    normal = target_section.normal(key) if target_section else key
                    if normal not in known[target]:
                        where = "the file or the database" if target_section else "the database"
                        noun = target_section.noun if target_section else LOOKUPS[target][2]
                        self.error(entry.line, f"{label}: {name}: no {noun} “{key}” in {where}.")
                self._compare(section, entry, existing[section.name].get(section.key_of(entry.values)), label)
            if section.name in found:
                self._not_listed(section, found[section.name], existing[section.name])

    def _refs(self, found: dict[str, list[Entry]]) -> list[tuple[str, Any]]:
        return [
            (target, key)
            for entries in found.values()
            for entry in entries
            for _, target, key in entry.section.references(entry.values)
        ]

    def _known(self, found: dict[str, list[Entry]], existing: dict[str, dict[Any, Any]]) -> dict[str, set[Any]]:
        """What a reference may name: the file's entries, what they create, and the rows that stay."""
        known: dict[str, set[Any]] = {}
        for section in SECTIONS:
            keys = {section.key_of(entry.values) for entry in found.get(section.name, [])}
            pruned = self.prune and section.removable and section.name in found
            if not pruned:
                keys |= set(existing.get(section.name, {}))
            known[section.name] = keys
        for entries in found.values():
            for entry in entries:
                for target, key in entry.section.provides(entry.values):
                    known[target].add(key)
        return known

    def _compare(self, section: Section, entry: Entry, row: Any, label: str) -> None:
        secret = self._secret(section, entry, label)
        self._errors(entry.line, label, section.validate(entry.values, secret, row))
        if row is None:
            if section.secret_noun and secret is None and (entry.sealed is None or self.passphrase is None):
                self.error(
                    entry.line,
                    f"{label}: a new {section.noun} needs its {section.secret_noun}: export the file with "
                    "--with-secrets and give its passphrase, or add it in the dashboard first.",
                )
            self.report.items.append(Item("add", section.name, section.describe(entry.values), entry.line))
            self.steps.append(Step(section, section.key_of(entry.values), None, entry.values, secret))
            return
        current = section.represent(row)
        changed = [
            name for name in section.fields if name not in section.uncompared and current[name] != entry.values[name]
        ]
        if secret is not None and not _same_secret(section, row, secret):
            changed.append(SECRET)
        else:
            secret = None
        if changed:
            self.report.items.append(Item("change", section.name, section.describe(entry.values), entry.line, changed))
            self.steps.append(Step(section, section.key_of(entry.values), row, entry.values, secret))

    def _secret(self, section: Section, entry: Entry, label: str) -> Secret | None:
        if entry.sealed is None or self.box is None:
            return None
        try:
            value = self.box.open(entry.sealed)
        except PassphraseError as error:
            self.error(entry.sealed_line, f"{label}: secret: {error}.")
            return None
        if problem := section.check_secret(value):
            self.error(entry.sealed_line, f"{label}: secret: {problem}")
            return None
        return Secret(value)

    def _not_listed(self, section: Section, entries: list[Entry], rows: dict[Any, Any]) -> None:
        listed = {section.key_of(entry.values) for entry in entries}
        for key, row in rows.items():
            if key in listed:
                continue
            values = section.represent(row)
            if self.prune and section.removable:
                self.report.items.append(Item("remove", section.name, section.describe(values)))
                self.steps.append(Step(section, key, row, values, None, remove=True))
            else:
                self.report.items.append(Item("keep", section.name, section.describe(values)))

    # Applying ---------------------------------------------------------------------------------

    def apply(self, user: User | AnonymousUser) -> None:
        """Adds and changes in section order, then removals in reverse order, in one transaction."""
        context = Context(SECTIONS)
        context.users, context.integrations = self.lookups["users"], self.lookups["integrations"]
        context.user = user
        with write_transaction():
            for section in SECTIONS:
                steps = [step for step in self.steps if step.section is section and not step.remove]
                new = [step for step in steps if step.row is None]
                added = section.add_many([step.values for step in new], context) if new else None
                if added is not None:
                    for step, row in zip(new, added, strict=True):
                        context.saved(section.name, step.key, row)
                    steps = [step for step in steps if step.row is not None]
                for step in steps:
                    context.saved(section.name, step.key, section.save(step.row, step.values, step.secret, context))
            for step in reversed(self.steps):
                if step.remove:
                    step.section.delete(step.row, context)
            counts = {action: self.report.count(action) for action in ("add", "change", "remove")}
            audit.record(user, "config.import", "configuration", after=counts, project=None)


def _named(label: str, section: Section, item: yamlio.Node) -> str:
    """`websites[3]`, with the entry's name when it has a readable one, for an entry that is invalid."""
    identity = item.value.get(section.identity) if isinstance(item.value, dict) else None
    if identity is not None and isinstance(identity.value, str) and identity.value:
        return f"{label} ({section.noun} “{identity.value[:60]}”)"
    return label


def _existing(section: Section) -> dict[Any, Any]:
    return {section.key_of(section.represent(row)): row for row in section.all_rows()}


def _same_secret(section: Section, row: Any, secret: Secret) -> bool:
    try:
        return section.secret_of(row).reveal() == secret.reveal()
    except SecretUnreadable:
        return False


@sensitive_variables("passphrase")
def import_config(
    data: bytes | str,
    *,
    passphrase: str | None = None,
    prune: bool = False,
    dry_run: bool = False,
    user: User | AnonymousUser | None = None,
    expected: list[tuple[str, str, str, tuple[str, ...]]] | None = None,
) -> Report:
    """Read, check and compare the file; apply it unless `dry_run` or any entry is invalid, or
    (`expected`: the plan of a preview) the database changed since so that the plan differs."""
    plan = _Plan(passphrase, prune)
    plan.report.dry_run = dry_run
    found = plan.read(data)
    if found is not None:
        plan.compare(found)
    report = plan.report
    report.errors.sort(key=_line_of)
    if not report.errors and expected is not None and report.plan() != expected:
        report.errors.append(
            "The database changed since the preview, so the import would not do what it showed: "
            "nothing was changed. Preview the file again."
        )
    if report.errors or dry_run or not report.changes:
        return report
    try:
        plan.apply(user or AnonymousUser())
    except (IntegrityError, DatabaseError) as error:
        report.errors.append(f"The database refused the import, so nothing was changed: {error}")
        return report
    report.applied = True
    return report


def _line_of(message: str) -> int:
    if message.startswith("line "):
        number = message[5:].split(":", 1)[0]
        return int(number) if number.isdigit() else 0
    return 0


__all__ = ["EVERYTHING", "ExportError", "Report", "export_config", "export_document", "import_config"]
