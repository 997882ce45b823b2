"""aws-auth as the authenticator parses it (go-yaml and Go `encoding/json`), not as PyYAML would.

`ParseMap` + `saveMap` (`pkg/mapper/configmap/configmap.go`, `pkg/config/mapper.go`): each list
goes YAML → JSON → Go `encoding/json` into the structs of `pkg/config/types.go`. Its leniencies
(yaml.v2 scalars, case-folded keys, a wrong type emptying one field, a whole list lost to one bad
value) are exactly where the bot's prediction can go wrong, so they live here, apart from the
lookup that uses the result.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from tests.support.authenticator.tokens import _ACCOUNT_ID, PARTITIONS

_PERMISSION_SET_NAME = re.compile(r"[\w+=,.@-]{1,32}", re.ASCII)


class _GoYamlLoader(yaml.SafeLoader):
    """PyYAML's safe loader, resolving plain scalars like yaml.v2 where the two differ.

    yaml.v2 keeps timestamps as strings when decoding into interface{}, has no base-60 numbers,
    and also reads `y`/`n` as booleans. A value of the wrong type empties its field (below), so
    `username: y` is an empty username there and must be here.
    """

    bool_values = {**yaml.SafeLoader.bool_values, "y": True, "n": False}


_DROPPED_TAGS = ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
_GoYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in _DROPPED_TAGS]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_GoYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:y|Y|n|N)$"), list("yYnN")
)
_GoYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"),
)
_GoYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


class _LostList(ValueError):
    """The whole value of one data key is discarded (bad YAML, no JSON form, not a list)."""


def _json_form(value: Any) -> Any:
    """sigs.k8s.io/yaml's YAML→JSON: keys become strings; NaN/Inf make json.Marshal fail."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(key, bool):
                key = "true" if key else "false"
            elif isinstance(key, int | float):
                key = str(key)
            elif not isinstance(key, str):
                raise _LostList(f"unsupported map key {key!r}")
            out[key] = _json_form(item)
        return out
    if isinstance(value, list):
        return [_json_form(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        raise _LostList(f"json: unsupported value {value}")
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _first_document(text: str) -> Any:
    """yaml.v2's Unmarshal: the first document only."""
    try:
        return next(iter(yaml.load_all(text, Loader=_GoYamlLoader)), None)
    except yaml.YAMLError as exc:
        raise _LostList(f"yaml: {exc}") from None


def _fold_rune(ch: str) -> str:
    """Go's `foldRune`: the least rune of its simple case-fold orbit (U+017F → S, U+212A → K)."""
    orbit, todo = {ch}, [ch]
    while todo:
        current = todo.pop()
        for other in (current.lower(), current.upper()):
            if len(other) == 1 and other not in orbit:
                orbit.add(other)
                todo.append(other)
    return min(orbit)


def go_fold(name: str) -> str:
    """encoding/json's folded key: how field names match case-insensitively."""
    return "".join(c.upper() if c < "\x80" else _fold_rune(c) for c in name)


_STRING, _STRINGS, _SSO = "string", "[]string", "*SSOARNMatcher"
#: The json tags of `pkg/config/types.go` (`userid` is decoded, never used by the ConfigMap).
_USER_FIELDS = {"userarn": _STRING, "username": _STRING, "groups": _STRINGS, "userid": _STRING}
_ROLE_FIELDS = {"rolearn": _STRING, "sso": _SSO, **_USER_FIELDS}
del _ROLE_FIELDS["userarn"]
_SSO_FIELDS = {"permissionSetName": _STRING, "accountID": _STRING, "partition": _STRING}


def _decode_struct(
    obj: Mapping[str, Any], fields: Mapping[str, str], current: Mapping[str, Any]
) -> dict[str, Any]:
    """Go's json.Unmarshal of one object into a struct.

    Keys match field names exactly, else case-insensitively; unknown keys are ignored; the JSON
    came from a Go map, so keys arrive sorted and the last of `RoleArn`/`rolearn` wins.
    """
    result = dict(current)
    folded = {go_fold(name): name for name in fields}
    for key in sorted(obj):
        name = key if key in fields else folded.get(go_fold(key))
        if name is not None:
            result[name] = _decode_value(fields[name], obj[key], result.get(name))
    return result


def _decode_value(kind: str, value: Any, current: Any) -> Any:
    """A wrong type records an error and leaves the field as it was; null zeroes slices/pointers."""
    if kind == _STRING:
        return value if isinstance(value, str) else current
    if value is None:
        return None
    if kind == _STRINGS:
        if not isinstance(value, list):
            return current
        return [v if isinstance(v, str) else "" for v in value]
    if isinstance(value, dict):
        return _decode_struct(value, _SSO_FIELDS, current or {})
    return current


@dataclass(frozen=True)
class SsoMatcher:
    permission_set_name: str
    account_id: str
    partition: str = ""

    def arn_like(self) -> str:
        """`RoleMapping.SSOArnLike`, bug included: an explicit partition yields `arn::iam::…`."""
        partition = "aws" if self.partition == "" else ""
        return (
            f"arn:{partition}:iam::{self.account_id}:role/"
            f"AWSReservedSSO_{self.permission_set_name}_*"
        ).lower()


@dataclass(frozen=True)
class RoleMapping:
    role_arn: str
    username: str
    groups: tuple[str, ...]
    sso: SsoMatcher | None = None

    def key(self) -> str:
        return self.role_arn.lower() if self.role_arn else self.sso.arn_like() if self.sso else ""


@dataclass(frozen=True)
class UserMapping:
    user_arn: str
    username: str
    groups: tuple[str, ...]


@dataclass(frozen=True)
class AwsAuth:
    """The authenticator's MapStore after `saveMap`."""

    roles: Mapping[str, RoleMapping]  # keyed by lower-cased rolearn or the SSO pattern
    users: Mapping[str, UserMapping]  # keyed by userarn exactly as written
    accounts: frozenset[str]
    problems: tuple[str, ...] = ()  # what ParseMap reported (it logs them and carries on)


def _entries(data: Mapping[str, str], key: str, problems: list[str]) -> list[Any]:
    text = data.get(key)
    if text is None or text.strip() in ("", "``", '""', "''"):
        return []
    try:
        value = _json_form(_first_document(text))
        if value is not None and not isinstance(value, list):
            raise _LostList(f"cannot unmarshal {type(value).__name__} into a list")
    except _LostList as exc:
        problems.append(f"{key}: {exc}")
        return []
    return value or []


def _validate_role(entry: Mapping[str, Any]) -> str:
    if not entry.get("rolearn") and entry.get("sso") is None:
        return "one of rolearn or SSO must be supplied"
    if entry.get("rolearn") and entry.get("sso") is not None:
        return "only one of rolearn or SSO can be supplied"
    sso = entry.get("sso")
    if sso is not None:
        if not _ACCOUNT_ID.fullmatch(sso.get("accountID") or ""):
            return f"AccountID {sso.get('accountID')!r} is not a valid AWS Account ID"
        if not _PERMISSION_SET_NAME.fullmatch(sso.get("permissionSetName") or ""):
            return f"PermissionSetName {sso.get('permissionSetName')!r} is not valid"
        if sso.get("partition") and sso["partition"] not in PARTITIONS:
            return f"partition {sso['partition']!r} is not a valid AWS partition"
    return ""


def parse_aws_auth(data: Mapping[str, str] | None) -> AwsAuth:
    """`ParseMap` + `saveMap`: what the authenticator holds for this ConfigMap `data`.

    A missing ConfigMap (None) is what a watch `Deleted` leaves: nothing mapped.
    """
    data = data or {}
    problems: list[str] = []
    roles: dict[str, RoleMapping] = {}
    for raw in _entries(data, "mapRoles", problems):
        entry = _decode_struct(raw, _ROLE_FIELDS, {}) if isinstance(raw, dict) else {}
        if error := _validate_role(entry):
            problems.append(f"mapRoles: {error}")
            continue
        sso = entry.get("sso")
        mapping = RoleMapping(
            role_arn=entry.get("rolearn") or "",
            username=entry.get("username") or "",
            groups=tuple(entry.get("groups") or ()),
            sso=None
            if sso is None
            else SsoMatcher(
                sso.get("permissionSetName") or "",
                sso.get("accountID") or "",
                sso.get("partition") or "",
            ),
        )
        roles[mapping.key()] = mapping
    users: dict[str, UserMapping] = {}
    for raw in _entries(data, "mapUsers", problems):
        entry = _decode_struct(raw, _USER_FIELDS, {}) if isinstance(raw, dict) else {}
        if not entry.get("userarn"):
            problems.append("mapUsers: value for userarn must be supplied")
            continue
        users[entry["userarn"]] = UserMapping(
            entry["userarn"], entry.get("username") or "", tuple(entry.get("groups") or ())
        )
    return AwsAuth(roles, users, _accounts(data, problems), tuple(problems))


def _accounts(data: Mapping[str, str], problems: list[str]) -> frozenset[str]:
    """mapAccounts is read by yaml.v2 straight into []string: any scalar keeps its literal text."""
    text = data.get("mapAccounts")
    if text is None or text.strip() in ("", "``", '""', "''"):
        return frozenset()
    try:
        node = next(iter(yaml.compose_all(text, Loader=_GoYamlLoader)), None)
    except yaml.YAMLError as exc:
        problems.append(f"mapAccounts: yaml: {exc}")
        return frozenset()
    if node is None or (isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null")):
        return frozenset()
    if not isinstance(node, yaml.SequenceNode):
        problems.append("mapAccounts: not a list")
        return frozenset()
    return frozenset(
        item.value
        for item in node.value
        if isinstance(item, yaml.ScalarNode) and not item.tag.endswith(":null")
    )
