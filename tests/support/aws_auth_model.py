"""An independent model of how aws-iam-authenticator reads aws-auth, for checking the bot.

Written from the authenticator's sources (aws-iam-authenticator@81b1dab: configmap.go ParseMap,
saveMap, RoleMapping/UserMapping Validate, Key, Matches, mapper.go Map, server.go doMapping),
go-yaml v2.4 (resolve.go, decode.go) and sigs.k8s.io/yaml (YAMLToJSON), and deliberately built
differently from `bot.domain.aws_auth*`, which it must not import: PyYAML constructors with
go-yaml's implicit types, a real JSON round trip (`json.dumps(sort_keys=True, allow_nan=False)`,
as json.Marshal sorts keys and refuses NaN), then Go's encoding/json struct decoding by hand.

Not modelled (the generators do not produce them): excessive aliasing, `!!binary`, and the
non-specific tag `! x` (go-yaml keeps it as text; PyYAML's composer hands it over as plain).
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any

import yaml

from bot.domain.principals import Principal

_GO_BOOL = (
    r"^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$"
)
_GO_NULL = r"^(?:~|null|Null|NULL|)$"
_GO_SPECIAL_FLOAT = r"^(?:[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
_TRUE = set(["y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"])


class GoYamlLoader(yaml.CSafeLoader):
    """go-yaml v2's reading of scalars into `interface{}`, built from PyYAML's hooks."""

    yaml_implicit_resolvers: dict[Any, Any] = {}
    yaml_constructors = dict(yaml.CSafeLoader.yaml_constructors)


def _add(tag: str, pattern: str, first: str) -> None:
    GoYamlLoader.add_implicit_resolver(tag, re.compile(pattern), list(first))


_add("tag:yaml.org,2002:bool", _GO_BOOL, "yYnNtTfFoO")
GoYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(_GO_NULL), ["~", "n", "N", ""]
)
_add("tag:yaml.org,2002:float", _GO_SPECIAL_FLOAT, "+-.")
_add("!go/number", r"^[-+0-9.]", "+-0123456789.")
_add("!go/merge", r"^<<$", "<")


def _number(text: str) -> Any:
    """resolve.go for a plain scalar starting with a digit, a sign or a dot."""
    if text.startswith("."):
        try:
            fraction = float(text) if text.isascii() else None
        except ValueError:
            fraction = None
        return text if fraction is None or abs(fraction) == float("inf") else fraction
    digits = text.replace("_", "")
    sign, body = (digits[0], digits[1:]) if digits[:1] in ("+", "-") else ("", digits)
    value: Any = None
    if re.fullmatch(r"0[xX][0-9a-fA-F]+", body):
        value = int(body[2:], 16)
    elif re.fullmatch(r"0[oO][0-7]+", body):
        value = int(body[2:], 8)
    elif re.fullmatch(r"0[bB][01]+", body):
        value = int(body[2:], 2)
    elif re.fullmatch(r"0[0-7]*", body):
        value = int(body, 8)
    elif re.fullmatch(r"[1-9][0-9]*", body):
        value = int(body)
    if value is not None:
        value = -value if sign == "-" else value
        if -(2**63) <= value <= 2**63 - 1 or (sign == "" and value <= 2**64 - 1):
            return value
    if re.fullmatch(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?", digits):
        number = float(digits)
        if abs(number) != float("inf"):
            return number
    return text


def _construct_scalar(loader: Any, node: Any) -> Any:
    text = loader.construct_scalar(node)
    tag = node.tag
    if tag == "!go/number":
        return _number(text)
    if tag == "!go/merge" or tag == "tag:yaml.org,2002:str":
        return text
    if tag == "tag:yaml.org,2002:bool":
        if re.match(_GO_BOOL, text):
            return text in _TRUE
        raise ValueError(f"cannot decode {text!r} as a bool")
    if tag == "tag:yaml.org,2002:null":
        if re.match(_GO_NULL, text):
            return None
        raise ValueError(f"cannot decode {text!r} as null")
    if tag == "tag:yaml.org,2002:float":
        if re.match(_GO_SPECIAL_FLOAT, text):
            return float("nan") if "nan" in text.lower() else float(text.replace(".", ""))
        value = _number(text)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise ValueError(f"cannot decode {text!r} as a float")
    if tag == "tag:yaml.org,2002:timestamp":
        return text  # go-yaml v2 keeps timestamps as text in interface{}
    return text  # an explicit tag go-yaml does not know: the text


def _construct_mapping(loader: Any, node: Any) -> dict[Any, Any]:
    """decode.go mapping(): a merge key sets the merged keys right where it stands."""
    out: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        if key_node.tag in ("!go/merge", "tag:yaml.org,2002:merge"):
            sources = (
                value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
            )
            for source in reversed(sources):
                if not isinstance(source, yaml.MappingNode):
                    raise ValueError("map merge requires map or sequence of maps")
                out.update(loader.construct_object(source, deep=True))
            continue
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, list | dict):
            raise ValueError("invalid map key")
        out[key] = loader.construct_object(value_node, deep=True)
    return out


for _tag in (
    "!go/number",
    "!go/merge",
    *(f"tag:yaml.org,2002:{t}" for t in ["str", "bool", "null", "float", "timestamp"]),
):
    GoYamlLoader.add_constructor(_tag, _construct_scalar)
GoYamlLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)


def _construct_unknown(loader: Any, node: Any) -> Any:
    """A tag go-yaml does not resolve: a scalar stays text, a collection is what it holds."""
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.MappingNode):
        return _construct_mapping(loader, node)
    return loader.construct_sequence(node, deep=True)


GoYamlLoader.add_constructor(None, _construct_unknown)
GoYamlLoader.add_constructor(
    "tag:yaml.org,2002:int", lambda loader, node: _expect_int(loader, node)
)


def _expect_int(loader: Any, node: Any) -> int:
    value = _number(loader.construct_scalar(node))
    if isinstance(value, int):
        return value
    raise ValueError(f"cannot decode {node.value!r} as an int")


class _Object(list[Any]):
    """A JSON object: its (key, value) pairs in document order (json.Marshal sorted them)."""


def _jsonable(value: Any) -> Any:
    """sigs.k8s.io/yaml convertToJSONableObject: map keys become strings or fail."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if isinstance(key, bool):
                name = "true" if key else "false"
            elif isinstance(key, int):
                if not -(2**63) <= key <= 2**63 - 1:
                    raise ValueError("unsupported map key of type: uint64")
                name = str(key)
            elif isinstance(key, float):
                name = repr(key)
            elif isinstance(key, str):
                name = key
            else:
                raise ValueError(f"unsupported map key of type: {type(key).__name__}")
            out[name] = _jsonable(item)
        return out
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    return value


def to_json(text: str) -> str:
    """utilyaml.ToJSON of one list value (only its first document); ValueError when lost."""
    try:
        first = next(yaml.load_all(text, Loader=GoYamlLoader), None)
        return json.dumps(_jsonable(first), sort_keys=True, allow_nan=False)
    except (yaml.YAMLError, ValueError, RecursionError) as error:
        raise ValueError(str(error)) from error


# ---------------------------------------------------------------------------------------------
# encoding/json into the authenticator's structs


def _json_fold(name: str) -> str:
    """Go 1.21+ foldName: ASCII upper-cased, others upper(lower(r)), rune by rune."""
    out = []
    for c in name:
        if c == "\u0130":
            out.append("I")
        elif c.isascii():
            out.append(c.upper())
        else:  # unicode.ToUpper(unicode.ToLower(r)); Python's own may give two letters
            low = c.lower() if len(c.lower()) == 1 else c
            up = low.upper()
            out.append(up if len(up) == 1 else low)
    return "".join(out)


def _decode_struct(pairs: Any, fields: dict[str, str], target: dict[str, Any]) -> None:
    if not isinstance(pairs, _Object):
        return  # not an object: a type error, the struct stays as it was
    for key, value in pairs:
        field = next((f for f in fields if _json_fold(f) == _json_fold(key)), None)
        if field is None:
            continue
        kind, old = fields[field], target.get(field)
        if kind == "string":
            if isinstance(value, str):
                target[field] = value
        elif kind == "[]string":
            if value is None:
                target[field] = None
            elif isinstance(value, list) and not isinstance(value, _Object):
                previous = list(old or [])
                target[field] = [
                    v if isinstance(v, str) else (previous[i] if i < len(previous) else "")
                    for i, v in enumerate(value)
                ]
        elif value is None:  # *SSOARNMatcher
            target[field] = None
        else:
            inner = dict(old) if old is not None else {}
            _decode_struct(
                value,
                {"permissionSetName": "string", "accountID": "string", "partition": "string"},
                inner,
            )
            target[field] = inner


ROLE_FIELDS = {
    "rolearn": "string",
    "sso": "sso",
    "username": "string",
    "groups": "[]string",
    "userid": "string",
}
USER_FIELDS = {"userarn": "string", "username": "string", "groups": "[]string", "userid": "string"}


@dataclass(frozen=True)
class Decoded:
    """One item of a list after json.Unmarshal; `kept` is Validate()."""

    index: int
    arn: str
    username: str
    groups: tuple[str, ...]
    sso: tuple[str, str, str] | None  # permissionSetName, accountID, partition
    kept: bool


@functools.lru_cache(maxsize=256)
def decode_list(key: str, text: str | None) -> tuple[Decoded, ...] | None:
    """The items of list `key` as the authenticator decodes them; None when it loses the list."""
    if text is None or text.strip(" \t\n\r\v\f") in ("", "``", '""', "''"):
        return ()
    try:
        raw = json.loads(to_json(text), object_pairs_hook=_Object)
    except ValueError:
        return None
    if raw is None:
        return ()
    if not isinstance(raw, list) or isinstance(raw, _Object):
        return None  # an object (or a scalar) where []RoleMapping is expected
    fields = ROLE_FIELDS if key == "mapRoles" else USER_FIELDS
    arn_field = "rolearn" if key == "mapRoles" else "userarn"
    found = []
    for index, item in enumerate(raw):
        target: dict[str, Any] = {}
        _decode_struct(item, fields, target)
        arn = target.get(arn_field) or ""
        sso = target.get("sso")
        sso_tuple = (
            None
            if sso is None
            else tuple(sso.get(f, "") for f in ("permissionSetName", "accountID", "partition"))
        )
        if key == "mapUsers" or sso_tuple is None:
            kept = arn != ""
        else:
            name, account, partition = sso_tuple
            kept = (
                arn == ""
                and re.fullmatch(r"[0-9]{12}", account) is not None
                and re.fullmatch(r"[A-Za-z0-9_+=,.@-]{1,32}", name) is not None
                and partition
                in (
                    "",
                    "aws",
                    "aws-cn",
                    "aws-us-gov",
                    "aws-iso",
                    "aws-iso-b",
                    "aws-iso-e",
                    "aws-iso-f",
                    "aws-eusc",
                )
            )
        found.append(
            Decoded(
                index,
                arn,
                target.get("username") or "",
                tuple(target.get("groups") or ()),
                sso_tuple,
                kept,
            )
        )
    return tuple(found)


# ---------------------------------------------------------------------------------------------
# The authenticator's maps and lookup


def _equal_fold(a: str, b: str) -> bool:
    """strings.EqualFold (simple case folding: KELVIN SIGN and LONG S fold to k and s)."""
    special = {"\u212a": "k", "\u017f": "s"}
    if len(a) != len(b):
        return False
    return all(
        x == y
        or (
            special.get(x, x).lower() == special.get(y, y).lower()
            and (x.isascii() or x in special)
            and (y.isascii() or y in special)
        )
        for x, y in zip(a, b, strict=True)
    )


def _sso_pattern(sso: tuple[str, str, str]) -> str:
    name, account, partition = sso
    part = "aws" if partition == "" else ""
    return "".join(
        "i" if c == "\u0130" else c.lower()
        for c in f"arn:{part}:iam::{account}:role/AWSReservedSSO_{name}_*"
    )


def _arn_like(subject: str, pattern: str) -> bool:
    if not subject.startswith("arn:") or not pattern.startswith("arn:"):
        return False
    a, p = subject.split(":", 5), pattern.split(":", 5)
    if len(a) != 6 or len(p) != 6:
        return False
    for section, glob in zip(a, p, strict=True):
        regex = "".join(".*" if c == "*" else ".?" if c == "?" else re.escape(c) for c in glob)
        if not re.fullmatch(regex, section, flags=re.S):
            return False
    return True


def covers(entry: Decoded, subject: str) -> bool:
    """RoleMapping/UserMapping.Matches: by its ARN, or (a valid) sso: entry by ArnLike."""
    if entry.arn:
        return _equal_fold(entry.arn, subject)
    return entry.kept and entry.sso is not None and _arn_like(subject, _sso_pattern(entry.sso))


def owned(entry: Decoded) -> bool:
    """The bot's own entry: the username `Principal` derives from the entry's ARN."""
    if not entry.kept or not entry.arn or entry.arn != entry.arn.strip():
        return False
    try:
        return Principal.parse(entry.arn.lower()).owns_username(entry.username)
    except ValueError:
        return False


Outcome = tuple[str | None, frozenset[tuple[str, tuple[str, ...]]]]


def outcome(data: dict[str, str], subject: str, skip: Any = None) -> Outcome:
    """(list, {(username, groups)}) the authenticator may answer for caller `subject` (its
    canonical ARN, lower-cased); more than one pair: it picks at random. `skip(entry)` leaves
    entries out."""
    roles: dict[str, Decoded] = {}
    for e in decode_list("mapRoles", data.get("mapRoles")) or []:
        if e.kept and not (skip and skip(e)):
            if e.arn:
                roles["".join("i" if c == "\u0130" else c.lower() for c in e.arn)] = e
            elif e.sso is not None:
                roles[_sso_pattern(e.sso)] = e
    users: dict[str, Decoded] = {}
    for e in decode_list("mapUsers", data.get("mapUsers")) or []:
        if e.kept and not (skip and skip(e)):
            users[e.arn] = e
    found = [r for r in roles.values() if covers(r, subject)]
    if found:
        return "mapRoles", frozenset((r.username, r.groups) for r in found)
    found = [u for u in users.values() if _equal_fold(u.arn, subject)]
    if found:
        return "mapUsers", frozenset((u.username, u.groups) for u in found)
    parts = subject.split(":")
    if len(parts) > 4 and parts[4] in accounts(data):
        return "mapAccounts", frozenset({(subject, ())})
    return None, frozenset()


def accounts(data: dict[str, str]) -> frozenset[str]:
    return _accounts(data.get("mapAccounts"))


@functools.lru_cache(maxsize=64)
def _accounts(text: str | None) -> frozenset[str]:
    """mapAccounts through go-yaml v2 into []string: every scalar item as written."""
    if text is None or text.strip() in ("", "``", '""', "''"):
        return frozenset()
    try:
        node = yaml.compose(text, Loader=yaml.CSafeLoader)
    except yaml.YAMLError:
        return frozenset()
    if not isinstance(node, yaml.SequenceNode):
        return frozenset()
    return frozenset(item.value for item in node.value if isinstance(item, yaml.ScalarNode))
