"""Reading a configuration file that may be hostile, and writing one.

A file is refused before any value is built when it is too big (`CONFIG_MAX_BYTES`), has too many
entries (`CONFIG_MAX_ENTRIES`), nests too deep, or uses anchors and aliases (the billion-laughs
attack expands a few lines into gigabytes), tags, several documents, or a key twice. What it holds
is then read into `Node`s that remember their line, so every message can name it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from django.conf import settings

# The largest whole number a file may hold (a database's BIGINT). A longer literal is refused unread:
# Python refuses to read a decimal of over 4,300 digits (ValueError), and YAML 1.1's base 60
# (`1:1:1…`) builds any size of number from a short line.
MAX_WHOLE = 2**63 - 1
MAX_NUMBER_TEXT = 100
MAX_DEPTH = 6  # the file's mapping (1), a section (2), an entry (3), a list in it (4), an item (5), its fields
# libyaml's parser and emitter when installed (PyYAML's wheels carry it); the pure-Python ones otherwise.
Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
Dumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
SCALAR_TAGS = {
    "tag:yaml.org,2002:str": "text",
    "tag:yaml.org,2002:int": "a whole number",
    "tag:yaml.org,2002:bool": "true or false",
    "tag:yaml.org,2002:null": "null",
}


class FileRefused(Exception):
    """The whole file is refused, with one message saying why (and where, when it can)."""


@dataclass
class Node:
    """A value of the file and the line (from 1) it starts on. `value` is a str, int, bool or
    None, a list of Nodes, or a dict of str to Node."""

    value: Any
    line: int

    def kind(self) -> str:
        if isinstance(self.value, dict):
            return "a mapping"
        if isinstance(self.value, list):
            return "a list"
        if isinstance(self.value, bool):
            return "true or false"
        if isinstance(self.value, int):
            return "a whole number"
        if self.value is None:
            return "null"
        return "text"


def _size_words(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB" if size >= 100_000 else f"{size:,} bytes"


def load(data: bytes | str) -> Node:
    """The file's top-level mapping as Nodes, or FileRefused."""
    raw = data.encode() if isinstance(data, str) else data
    limit = int(settings.CONFIG_MAX_BYTES)
    if len(raw) > limit:
        raise FileRefused(
            f"The file is {_size_words(len(raw))}, over the limit of {_size_words(limit)} (CONFIG_MAX_BYTES)."
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise FileRefused(f"The file is not UTF-8 text (byte {error.start + 1} is not).") from None
    try:
        _check_events(text)
        document = yaml.compose(text, Loader=Loader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise FileRefused(f"{where}this is not valid YAML ({error.problem or error.context}).") from None
    except yaml.YAMLError as error:
        raise FileRefused(f"This is not valid YAML ({error}).") from None
    if document is None:
        raise FileRefused("The file is empty: expected a mapping with `version: 1` and sections.")
    return _node(document)


def _check_events(text: str) -> None:
    """One pass over the parser's events, before any node is built: anchors, aliases, tags,
    depth, the number of entries and of documents."""
    max_entries = int(settings.CONFIG_MAX_ENTRIES)
    max_values = max_entries * 40  # an entry has a few fields; this bounds any shape of file
    depth = entries = values = documents = 0
    for event in yaml.parse(text, Loader=Loader):
        line = event.start_mark.line + 1 if event.start_mark is not None else 0
        if isinstance(event, yaml.DocumentStartEvent):
            documents += 1
            if documents > 1:
                raise FileRefused(f"line {line}: a second YAML document: a configuration file holds one.")
        if isinstance(event, yaml.NodeEvent):
            _refuse_references(event, line)
            values += 1
            if values > max_values:
                raise FileRefused(f"line {line}: the file holds more than {max_values:,} values.")
            if depth == 2:  # an item of a section's list
                entries += 1
                if entries > max_entries:
                    raise FileRefused(
                        f"line {line}: the file has more than {max_entries:,} entries (CONFIG_MAX_ENTRIES)."
                    )
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise FileRefused(f"line {line}: nested deeper than {MAX_DEPTH} levels.")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _refuse_references(event: yaml.NodeEvent, line: int) -> None:
    """Anchors and aliases (the billion laughs), and tags (!x, !!python/...: None unless written)."""
    if isinstance(event, yaml.AliasEvent):
        raise FileRefused(f"line {line}: aliases (*{event.anchor}) are not allowed: write each value out.")
    if event.anchor is not None:
        raise FileRefused(f"line {line}: anchors (&{event.anchor}) are not allowed: write each value out.")
    tag = getattr(event, "tag", None)
    if tag is not None:
        raise FileRefused(f"line {line}: tags ({tag}) are not allowed.")


def _node(node: yaml.Node) -> Node:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        mapping: dict[str, Node] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != "tag:yaml.org,2002:str":
                raise FileRefused(f"line {key_node.start_mark.line + 1}: a key must be a plain word.")
            key = str(key_node.value)
            if key in mapping:
                raise FileRefused(f"line {key_node.start_mark.line + 1}: the key “{key}” appears twice here.")
            mapping[key] = _node(value_node)
        return Node(mapping, line)
    if isinstance(node, yaml.SequenceNode):
        return Node([_node(item) for item in node.value], line)
    assert isinstance(node, yaml.ScalarNode)
    if node.tag not in SCALAR_TAGS:
        raise FileRefused(f"line {line}: “{str(node.value)[:40]}” is not text, a whole number or true/false.")
    if node.tag == "tag:yaml.org,2002:str":
        return Node(str(node.value), line)
    if node.tag == "tag:yaml.org,2002:int" and len(str(node.value)) > MAX_NUMBER_TEXT:
        raise FileRefused(f"line {line}: number too large.")
    value = yaml.constructor.SafeConstructor().construct_object(node)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_WHOLE:
        raise FileRefused(f"line {line}: number too large.")
    return Node(value, line)


HEADER = (
    "# Paystatus configuration (export_config / the Configuration page). Import it with import_config.\n"
    "# Secrets are left out unless exported with --with-secrets, and then encrypted under a passphrase.\n"
)


def dump(document: dict[str, Any]) -> str:
    """The file: the same document always gives the same bytes."""
    body = yaml.dump(
        document, Dumper=Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False, width=10_000
    )
    return HEADER + body
