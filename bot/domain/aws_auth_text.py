"""Text edits of one aws-auth list value (`mapRoles` or `mapUsers`) that keep foreign bytes.

Every edit is tried as a plain line edit first (append one line, delete one line), so comments
and formatting of entries the bot did not write survive. Each candidate text is parsed again
and must hold exactly the expected list; when it does not (flow lists, odd layouts), the list
is re-serialised from its parsed nodes instead, which keeps every entry's content and scalar
spelling but not comments or layout.

These are PyYAML's values, used to keep foreign bytes and content exactly; what the
authenticator makes of a list, and so which items are the bot's own, is `aws_auth_entries`
(the caller passes `removed` the positions to drop).
"""

from __future__ import annotations

import functools
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import yaml

from bot.domain.aws_auth_yaml import describe_value, describe_yaml_error

# libyaml, when present, is both faster and closer to the parser the authenticator uses
# (go-yaml v2 is a port of libyaml); the constructors are the same safe ones either way.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

# Values the authenticator skips as empty (configmap.go isSkippable), plus '' which is also empty.
SKIPPABLE = frozenset({"", "``", '""', "''"})
ARN_KEYS = frozenset({"rolearn", "userarn"})
_SEQ_TAG = "tag:yaml.org,2002:seq"


class ListUnreadable(ValueError):
    """The value is not a YAML list; `str(e)` says why in words."""


class EditFailed(ValueError):
    """A rewritten list did not read back as intended (a bug): nothing may be written."""


def load_list(text: str) -> list[Any]:
    """The entries of one list value; blank, comment-only and null values are an empty list.

    The result is shared with a cache: read it, never modify it.
    """
    return _parse(text)[1]


def canonical_items(text: str) -> tuple[Any, ...]:
    """`canonical` of each entry of a list value, in order (cached with the parse: one edit
    compares the same texts several times, and the list written is the next one read)."""
    return _canonical_items(text)


@functools.lru_cache(maxsize=4)
def _canonical_items(text: str) -> tuple[Any, ...]:
    return tuple(canonical(item) for item in load_list(text))


def canonical(value: Any) -> Any:
    """A hashable form of a parsed value in which equal means the same YAML content.

    Plain `==` is too lenient for a safety check: `1 == True == 1.0`.
    """
    if isinstance(value, dict):
        return ("map", frozenset((canonical(k), canonical(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ("seq", tuple(canonical(v) for v in value))
    if isinstance(value, set):
        return ("set", frozenset(canonical(v) for v in value))
    if isinstance(value, float):
        return ("float", repr(value))
    return (type(value).__name__, value)


def quote(value: str) -> str:
    """A double-quoted YAML scalar in pure ASCII that reads back as exactly `value`."""
    out = []
    for ch in value:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 0x20 <= code < 0x7F:
            out.append(ch)
        elif code <= 0xFF:
            out.append(f"\\x{code:02x}")
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return '"' + "".join(out) + '"'


def flow_text(entry: Any) -> str | None:
    """The one-line flow form of an entry shaped like the bot's own (arn, username, groups).

    None for anything else: such entries are never written or matched as a single line.
    """
    if not isinstance(entry, dict) or len(entry) != 3:
        return None
    arn_key = next((k for k in entry if k in ARN_KEYS), None)
    username, groups = entry.get("username"), entry.get("groups")
    if arn_key is None or not isinstance(entry[arn_key], str) or not isinstance(username, str):
        return None
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        return None
    arn, group_list = quote(entry[arn_key]), ", ".join(quote(g) for g in groups)
    return f"{{{arn_key}: {arn}, username: {quote(username)}, groups: [{group_list}]}}"


def appended(text: str, *entries: dict[str, Any]) -> str:
    """`text` with `entries` added as the last items, in their order."""
    shape = _parse(text)[0]
    lines = [flow_text(entry) for entry in entries]
    for entry, line in zip(entries, lines, strict=True):
        if line is None:
            raise ValueError(f"{entry!r} is not shaped like an entry the bot writes")
    newline = "\r\n" if "\r\n" in text else "\n"
    indent = ""
    candidate: str | None = None
    if text.strip() in SKIPPABLE or shape.kind == "scalar":
        candidate = ""
    elif shape.kind == "none":  # comments only: keep them
        candidate = _with_final_newline(text, newline)
    elif shape.kind == "block" and shape.items:
        indent = " " * shape.column
        candidate = _with_final_newline(text, newline)
    expected = (*canonical_items(text), *(canonical(entry) for entry in entries))
    if candidate is not None:
        candidate += "".join(f"{indent}- {line}{newline}" for line in lines)
        if _holds(candidate, expected):
            return candidate
    own_nodes = _item_nodes(_nodes("".join(f"- {line}\n" for line in lines)))
    return _verified(_rendered(_item_nodes(_nodes(text)), own_nodes), expected)


def removed(text: str, drop: Collection[int]) -> str:
    """`text` without the items at the positions `drop`; `text` itself when there are none."""
    shape, items = _parse(text)
    if not any(0 <= n < len(items) for n in drop):
        return text
    kept = tuple(form for n, form in enumerate(canonical_items(text)) if n not in drop)
    candidate = _without_own_lines(text, shape, items, drop)
    if candidate is not None and _holds(candidate, kept):
        return candidate
    kept_nodes = [node for n, node in enumerate(_item_nodes(_nodes(text))) if n not in drop]
    return _verified(_rendered(kept_nodes), kept)


def _rendered(nodes: list[yaml.Node], own_nodes: list[yaml.Node] | None = None) -> str:
    """A block list of the item nodes, then the bot's own entries, one line each; comments are
    lost.

    Serialising nodes rather than values keeps each scalar's own spelling and quoting, so a
    reader with other implicit types sees what it saw before: go-yaml v2 reads a plain `y` as
    true and `1:30` as text, where PyYAML reads the text "y" and the number 90.
    """
    copies: dict[int, yaml.Node] = {}
    items = [_block_style(n, copies) for n in nodes] + (own_nodes or [])
    if not items:
        return ""
    block = yaml.SequenceNode(_SEQ_TAG, items, flow_style=False)
    return str(yaml.serialize(block, Dumper=_DUMPER, allow_unicode=True, width=1 << 30))


def _block_style(node: yaml.Node, copies: dict[int, yaml.Node]) -> yaml.Node:
    """A copy of `node` with block collections (plain `1:30` cannot stay plain in flow style).

    The parsed nodes are cached and shared, so they are copied, not changed; `copies` keeps
    anchors and aliases pointing at one node.
    """
    if id(node) in copies:
        return copies[id(node)]
    if isinstance(node, yaml.SequenceNode):
        sequence = yaml.SequenceNode(node.tag, [], flow_style=False)
        copies[id(node)] = sequence
        sequence.value.extend(_block_style(item, copies) for item in node.value)
        return sequence
    if isinstance(node, yaml.MappingNode):
        mapping = yaml.MappingNode(node.tag, [], flow_style=False)
        copies[id(node)] = mapping
        mapping.value.extend(
            (_block_style(key, copies), _block_style(value, copies)) for key, value in node.value
        )
        return mapping
    return node


def _holds(candidate: str, expected: tuple[Any, ...]) -> bool:
    """Whether `candidate` reads back as exactly the entries whose canonical forms are
    `expected`."""
    try:
        return canonical_items(candidate) == expected
    except ListUnreadable:
        return False


def _verified(text: str, expected: tuple[Any, ...]) -> str:
    if not _holds(text, expected):
        raise EditFailed("the rewritten list does not read back as the expected entries")
    return text


def _item_nodes(node: yaml.Node | None) -> list[yaml.Node]:
    return list(node.value) if isinstance(node, yaml.SequenceNode) else []


def _without_own_lines(
    text: str, shape: _Shape, items: list[Any], drop: Collection[int]
) -> str | None:
    """Delete the dropped items' lines if each is exactly one line as the bot writes it."""
    if shape.kind != "block":
        return None
    lines = text.split("\n")
    doomed = set()
    for n, (item, (line_no, end_line)) in enumerate(zip(items, shape.items, strict=True)):
        if n not in drop:
            continue
        own_line = flow_text(item)
        if own_line is None or end_line != line_no:
            return None
        if line_no >= len(lines) or lines[line_no].strip() != f"- {own_line}":
            return None
        doomed.add(line_no)
    return "\n".join(line for no, line in enumerate(lines) if no not in doomed)


def _with_final_newline(text: str, newline: str) -> str:
    return text if text.endswith("\n") else text + newline


@dataclass(frozen=True, slots=True)
class _Shape:
    """What the edits need of a list's node tree, kept instead of the tree itself: a parsed
    node tree costs about 20 times its text in memory (marks on every node), and the cache
    below would otherwise hold several trees of a document that may be near 1 MiB.

    `kind`: "none" (blank or comments only), "scalar", "block" or "flow" (a sequence), or
    "other" (a mapping); `column` where a block list's items start; `items`: each item's
    first and last line (0-based), for a block list.
    """

    kind: str
    column: int = 0
    items: tuple[tuple[int, int], ...] = ()


def _shape(node: yaml.Node | None) -> _Shape:
    if node is None:
        return _Shape("none")
    if isinstance(node, yaml.ScalarNode):
        return _Shape("scalar")
    if not isinstance(node, yaml.SequenceNode):
        return _Shape("other")
    if node.flow_style:
        return _Shape("flow")
    spans = tuple((item.start_mark.line, item.end_mark.line) for item in node.value)
    return _Shape("block", node.start_mark.column, spans)


# One edit reads the same text several times (read, edit, check the candidate, verify); an
# aws-auth near 1 MiB takes about half a second to parse. Four texts cover one edit: each of
# the two lists before and after it.
@functools.lru_cache(maxsize=4)
def _parse(text: str) -> tuple[_Shape, list[Any]]:
    if text.strip() in SKIPPABLE:
        return _Shape("none"), []
    try:
        loader = _LOADER(text)
        try:
            node = loader.get_single_node()
            value = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as error:
        raise ListUnreadable(f"it is not valid YAML: {describe_yaml_error(error)}") from error
    if value is None or value == "":
        return _shape(node), []
    if not isinstance(value, list):
        raise ListUnreadable(f"it holds {describe_value(value)} where a list is expected")
    return _shape(node), value


def _nodes(text: str) -> yaml.Node | None:
    """The node tree of a list that `_parse` has read (so it parses), for re-serialising it;
    not cached (see `_Shape`), as it is needed only when a line edit does not do."""
    if text.strip() in SKIPPABLE:
        return None
    loader = _LOADER(text)
    try:
        node: yaml.Node | None = loader.get_single_node()
        return node
    finally:
        loader.dispose()
