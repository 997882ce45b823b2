"""One aws-auth list value turned into JSON-like values the way the authenticator does it.

The authenticator's `ParseMap` hands each value to sigs.k8s.io/yaml (go-yaml v2 into
`interface{}`, then map keys made strings, then `json.Marshal`) before Go's encoding/json
decodes it. go-yaml v2 reads YAML 1.1 its own way, unlike PyYAML: a plain `y` is true, `1:30` and `2001-12-14` are text, `0123` is 83; a later
merge key (`<<`) overrides keys before it; a null or list mapping key, `.inf` or `.nan`, or a
value that contains itself loses the whole list. Only the first YAML document counts.

libyaml builds the node tree (go-yaml v2 is a port of it); this module gives the nodes
go-yaml's meaning. Known gap: the non-specific tag `! x` is read like a plain `x` here, where
go-yaml keeps it as text.
"""

from __future__ import annotations

import base64
import binascii
import functools
import math
import re
from typing import Any, ClassVar, Literal

import yaml

_BASE: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_PLAIN = "!eks-access/plain"  # a plain scalar without a tag: go-yaml resolves it itself
_YAML_TAG = "tag:yaml.org,2002:"
_STR = _YAML_TAG + "str"

_GO_CONSTANTS: dict[str, Any] = {
    **dict.fromkeys(
        ["y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"], True
    ),
    **dict.fromkeys(
        ["n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"], False
    ),
    **dict.fromkeys(["", "~", "null", "Null", "NULL"], None),
    **dict.fromkeys([".nan", ".NaN", ".NAN"], math.nan),
    **dict.fromkeys([".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"], math.inf),
    **dict.fromkeys(["-.inf", "-.Inf", "-.INF"], -math.inf),
}
# strconv.ParseInt(s, 0, 64) syntax, after go-yaml has removed every underscore
_GO_INT = re.compile(r"[-+]?(?:0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)\Z")
_YAML_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?\Z")
_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
    r"(?:[Tt ][0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(?:\.[0-9]+)?(?:Z|[-+][0-9]{2}:[0-9]{2})?)?\Z"
)
_INT64, _UINT64 = 2**63, 2**64
# Non-ASCII letters encoding/json folds onto ASCII ones (Go 1.21+ foldName: upper(lower(r))).
_FIELD_FOLD = {"\u212a": "k", "\u017f": "s", "\u0130": "i", "\u0131": "i"}
#: A struct field's Go type: string, []string, or *struct with these (lower-case) field tags.
GoField = Literal["string", "[]string"] | tuple[str, ...]
# Go's unicode.IsSpace, which strings.TrimSpace uses (Python's str.strip() strips more)
GO_SPACE = " \t\n\v\f\r\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"


class Lost(ValueError):
    """The authenticator cannot read the value and drops the whole list; `str(e)` says why."""


class _Composer(_BASE):
    """libyaml's node tree, with plain untagged scalars marked instead of resolved."""

    yaml_implicit_resolvers: ClassVar[dict[Any, Any]] = {None: [(_PLAIN, re.compile(""))]}


def skippable(text: str) -> bool:
    """Values the authenticator skips as empty (`configmap.go::isSkippable`)."""
    return text.strip(GO_SPACE) in ("", "``", '""', "''")


def go_document(text: str) -> Any:
    """The first YAML document of `text` as JSON-like values; raises Lost."""
    try:
        node = _first_node(text)
    except yaml.YAMLError as error:
        raise Lost(f"it is not valid YAML: {describe_yaml_error(error)}") from error
    return None if node is None else _GoDecoder().value(node)


def go_strings(text: str) -> list[str]:
    """A list decoded by go-yaml v2 into `[]string` (mapAccounts): each scalar as written."""
    try:
        node = _first_node(text)
    except yaml.YAMLError:
        return []
    if not isinstance(node, yaml.SequenceNode):
        return []
    return [n.value for n in node.value if isinstance(n, yaml.ScalarNode)]


def _first_node(text: str) -> yaml.Node | None:
    """The node tree of the first document only, as go-yaml v2's Unmarshal reads it."""
    loader = _Composer(text)
    try:
        node: yaml.Node | None = loader.get_node() if loader.check_node() else None
        return node
    finally:
        loader.dispose()


def describe_yaml_error(error: yaml.YAMLError) -> str:
    if isinstance(error, yaml.MarkedYAMLError) and error.problem_mark is not None:
        mark = error.problem_mark
        return f"{error.problem} at line {mark.line + 1}, column {mark.column + 1}"
    return str(error).strip()


def describe_value(value: Any) -> str:
    """What a parsed value that should have been a list is, in words."""
    if isinstance(value, dict):
        return "a mapping of keys to values"
    if isinstance(value, str):
        return f"the text {value[:40]!r}"
    return f"a single {type(value).__name__} value"


class _GoDecoder:
    """go-yaml v2's `decoder` into `interface{}` plus sigs.k8s.io/yaml's JSON conversion."""

    def __init__(self) -> None:
        self.seen: set[int] = set()
        self.open: set[int] = set()
        self.decoded = self.aliased = self.alias_depth = 0

    def value(self, node: yaml.Node) -> Any:
        key = id(node)
        if key in self.open:
            raise Lost("an alias (*name) refers to the value that contains it")
        alias = key in self.seen  # libyaml shares the anchored node; go-yaml counts aliases
        self.seen.add(key)
        self.alias_depth += alias
        self.decoded += 1 + alias
        self.aliased += self.alias_depth > 0
        ratio = self.aliased / self.decoded
        if self.aliased > 100 and self.decoded > 1000 and ratio > _allowed_ratio(self.decoded):
            raise Lost("it contains excessive aliasing")
        self.open.add(key)
        try:
            if isinstance(node, yaml.ScalarNode):
                value = _scalar(node)
                if isinstance(value, float) and not math.isfinite(value):
                    raise Lost(f"{node.value!r} is not a number JSON can hold")
                return value
            if isinstance(node, yaml.SequenceNode):
                return [self.value(item) for item in node.value]
            return self.mapping(node, {})
        finally:
            self.open.discard(key)
            self.alias_depth -= alias

    def mapping(self, node: yaml.Node, out: dict[str, Any]) -> dict[str, Any]:
        for key_node, value_node in node.value:
            if _is_merge(key_node):
                self.merge(value_node, out)
                continue
            out[_json_key(key_node)] = self.value(value_node)
        return out

    def merge(self, node: yaml.Node, out: dict[str, Any]) -> None:
        """Merged keys replace the ones before `<<`; earlier maps of a list win."""
        sources = list(reversed(node.value)) if isinstance(node, yaml.SequenceNode) else [node]
        for source in sources:
            if not isinstance(source, yaml.MappingNode):
                raise Lost("a merge key (<<) needs a mapping or a list of mappings")
            out.update(self.value(source))


def _is_merge(node: yaml.Node) -> bool:
    merge_tags = (_PLAIN, _YAML_TAG + "merge")
    return isinstance(node, yaml.ScalarNode) and node.value == "<<" and node.tag in merge_tags


def _json_key(node: yaml.Node) -> str:
    if not isinstance(node, yaml.ScalarNode):
        raise Lost("a mapping key is a list or a mapping")
    key = _scalar(node)
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int) and -_INT64 <= key < _INT64:
        return str(key)
    if isinstance(key, float):  # never a field name; only has to stay apart from those
        return f"{key:g}"
    raise Lost(f"the mapping key {node.value!r} cannot become a JSON key")


def _scalar(node: yaml.ScalarNode) -> Any:
    tag, text = node.tag, node.value
    if tag == _PLAIN:
        return _go_plain(text)
    kind = tag[len(_YAML_TAG) :] if tag.startswith(_YAML_TAG) else None
    if kind == "binary":
        try:
            return base64.b64decode(text, validate=False).decode("utf-8", errors="replace")
        except binascii.Error as error:
            raise Lost("a !!binary value is not base64") from error
    if kind not in ("null", "bool", "int", "float", "timestamp"):
        return text  # !!str, and tags go-yaml does not resolve, are text
    value = text if kind == "timestamp" and _TIMESTAMP.match(text) else _go_plain(text)
    if kind == "float" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    expected = {"null": type(None), "bool": bool, "int": int, "float": float, "timestamp": str}
    if type(value) is not expected[kind]:
        raise Lost(f"{text!r} is not a valid !!{kind}")
    return value


def _go_plain(text: str) -> Any:
    """go-yaml v2's `resolve` of a plain scalar (timestamps stay text in `interface{}`)."""
    if text in _GO_CONSTANTS:
        return _GO_CONSTANTS[text]
    first = text[:1]
    if first == "." and text.isascii():
        try:
            number = float(text)
        except ValueError:
            return text
        return number if math.isfinite(number) else text  # ParseFloat's ErrRange
    if first and first in "+-0123456789":
        plain = text.replace("_", "")
        if _GO_INT.match(plain):
            sign = -1 if plain[0] == "-" else 1
            digits = plain.lstrip("+-")
            octal = len(digits) > 1 and digits[0] == "0" and digits[1].isdigit()
            number = sign * int(digits, 8 if octal else 0)
            if -_INT64 <= number < _INT64 or (plain[0] not in "+-" and number < _UINT64):
                return number
        if _YAML_FLOAT.match(plain) and math.isfinite(float(plain)):
            return float(plain)
    return text


def _allowed_ratio(decoded: int) -> float:
    low, high = 400_000, 4_000_000
    if decoded <= low:
        return 0.99
    if decoded >= high:
        return 0.10
    return 0.99 - 0.89 * (decoded - low) / (high - low)


def go_struct(
    value: Any, fields: dict[str, GoField] | tuple[str, ...], into: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Go's json.Unmarshal of a JSON-like `value` into a struct (only string fields: a tuple).

    Field names match in any letter case and the keys apply in sorted order (the order
    json.Marshal wrote them in), so of `rolearn` and `roleARN` the later one wins. A value of
    the wrong type leaves the field as it was, and null empties only slices and pointers.
    """
    types: dict[str, GoField] = (
        {name: "string" for name in fields} if isinstance(fields, tuple) else fields
    )
    into = {} if into is None else into
    if not isinstance(value, dict):
        return into
    for key in sorted(value):
        name = _folded_field_name(key)
        if name in types:
            into[name] = _go_field(types[name], value[key], into.get(name))
    return into


@functools.lru_cache(maxsize=256)  # every entry spells the same few field names
def _folded_field_name(key: str) -> str:
    """`key` as encoding/json matches it against a struct's (lower-case) field tags."""
    return "".join(_FIELD_FOLD.get(c, c.lower() if c.isascii() else "\0") for c in key)


def _go_field(kind: GoField, value: Any, old: Any) -> Any:
    if kind == "[]string":
        if value is None or not isinstance(value, list):
            return None if value is None else old
        before = list(old or [])
        before += [""] * (len(value) - len(before))  # Go decodes into the slice it had
        return [v if isinstance(v, str) else before[n] for n, v in enumerate(value)]
    if isinstance(kind, tuple):  # a pointer: allocated for any value but null
        return None if value is None else go_struct(value, kind, dict(old or {}))
    return value if isinstance(value, str) else (old or "")
