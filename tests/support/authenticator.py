"""An independent model of the EKS authenticator, served as a TokenReview webhook on loopback.

The bot predicts what the authenticator will make of aws-auth and of access entries; tests check
that prediction against this twin, never against the bot's own parser. So this module imports
nothing from `bot`. It follows REFERENCE §1-2 and aws-iam-authenticator@81b1dab as read:

- identity (`pkg/token/token.go`, `pkg/arn/arn.go::Canonicalize`): an assumed-role ARN becomes
  `arn:P:iam::ACCT:role/NAME` (never a path); users, root and federated users pass through;
- aws-auth (`pkg/mapper/configmap/configmap.go::ParseMap`, `::saveMap`, `pkg/config/mapper.go`):
  each list YAML → JSON → Go `encoding/json` into structs, with all the leniency that implies;
- mapping (`pkg/server/server.go::doMapping`, `::renderTemplate`): access entries first when the
  cluster's mode allows them, then mapRoles, mapUsers, mapAccounts; templates rendered last.

Test tokens stand in for the presigned STS URL: `eks-test.` + base64url(JSON) naming the caller.
`resolve()` is the pure part; `TokenReviewWebhook` reads aws-auth (and optionally an EKS API)
live on every review, answers the kube-apiserver and records what it answered.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
import secrets
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import yaml
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError
from kubernetes import client, config

TOKEN_PREFIX = "eks-test."
CONFIG_MAP, API_AND_CONFIG_MAP, API = "CONFIG_MAP", "API_AND_CONFIG_MAP", "API"
MODES = (CONFIG_MAP, API_AND_CONFIG_MAP, API)
#: `pkg/endpoints/partitions.go::PARTITIONS`.
PARTITIONS = (
    "aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-eusc",
)  # fmt: skip
#: STS RoleSessionName: 2-64 of `[\w+=,.@-]`.
_SESSION_NAME = re.compile(r"[\w+=,.@-]{2,64}", re.ASCII)
_ACCOUNT_ID = re.compile(r"[0-9]{12}")
_PERMISSION_SET_NAME = re.compile(r"[\w+=,.@-]{1,32}", re.ASCII)
#: `pkg/server/server.go::instanceIDPattern`.
_INSTANCE_ID = re.compile(r"i-(\w{8}|\w{17})", re.ASCII)
_IAM_PRINCIPAL = re.compile(
    r"arn:(?P<partition>[^:]*):iam::(?P<account>[0-9]{12}):"
    r"(?P<kind>user|role)/(?:[^/]+/)*(?P<name>[^/]+)"
)


class InvalidToken(ValueError):
    """Not a test token, or one naming no identity STS could return (the authenticator's 403)."""


# -- tokens and caller identity ------------------------------------------------------------------


def token_for(arn: str, session: str | None = None, *, nonce: str | None = None) -> str:
    """A bearer token the webhook resolves to `arn` (an IAM role needs the STS `session` name).

    Every call makes a new token (a random `nonce` inside) because the 1.20 kube-apiserver keeps
    successful token answers for 10 s whatever the webhook cache TTL: a fresh token is the only
    way to see the effect of a revoke at once. Pass a fixed `nonce` to get a reusable token.
    """
    caller_identity(arn, session)  # fail here, in the test, rather than as a puzzling 401
    claims = {"arn": arn, "session": session, "nonce": nonce or secrets.token_hex(6)}
    raw = json.dumps(claims, separators=(",", ":")).encode()
    return TOKEN_PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_token(token: str) -> tuple[str, str | None]:
    """The `(arn, session)` a test token names; raises InvalidToken for anything else."""
    if not token.startswith(TOKEN_PREFIX):
        raise InvalidToken("not an eks-test token")
    body = token[len(TOKEN_PREFIX) :]
    try:
        claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise InvalidToken(f"undecodable eks-test token: {exc}") from None
    if not isinstance(claims, dict):
        raise InvalidToken("an eks-test token holds a JSON object")
    arn, session = claims.get("arn"), claims.get("session")
    if not isinstance(arn, str) or not (session is None or isinstance(session, str)):
        raise InvalidToken("an eks-test token needs a string arn and a string or null session")
    return arn, session


@dataclass(frozen=True)
class Caller:
    """What the authenticator knows after STS GetCallerIdentity (`token.Identity`)."""

    arn: str  # as STS reports it: roles as `sts::ACCT:assumed-role/NAME/SESSION`
    canonical_arn: str  # `arn.Canonicalize`: roles as `iam::ACCT:role/NAME`
    account_id: str
    session_name: str  # "" for IAM users, root and federated users
    kind: str  # "user" | "role" | "root" | "federated-user"
    partition: str

    @property
    def name(self) -> str:
        """The user or role name, without any path."""
        return self.canonical_arn.rsplit("/", 1)[-1]

    @property
    def principal_id(self) -> str:
        """A stand-in for the IAM unique id (`AIDA…`/`AROA…`), stable per principal."""
        prefix = {"user": "AIDA", "role": "AROA"}.get(self.kind, "AIDA")
        digest = hashlib.sha256(self.canonical_arn.lower().encode()).hexdigest()
        return prefix + digest[:17].upper()


def caller_identity(arn: str, session: str | None = None) -> Caller:
    """The identity STS would report for `arn` (+ session), canonicalised like the authenticator.

    An IAM role ARN means "assumed with this session": STS answers with the assumed-role ARN,
    which carries no path, so neither does the canonical ARN.
    """
    sections = arn.split(":", 5)
    if len(sections) != 6 or sections[0] != "arn":
        raise InvalidToken(f"arn {arn!r} is invalid")
    _, partition, service, _region, account, resource = sections
    if partition not in PARTITIONS:
        raise InvalidToken(f"arn {arn!r} does not have a recognized partition")
    if not _ACCOUNT_ID.fullmatch(account):
        raise InvalidToken(f"arn {arn!r} has no 12-digit account id")
    parts = resource.split("/")
    kind = f"{service}:{parts[0]}"
    if kind == "iam:role":
        if not parts[-1]:
            raise InvalidToken(f"arn {arn!r} names no role")
        if session is None:
            raise InvalidToken(f"{arn} is a role: give the STS session name it was assumed with")
        arn = f"arn:{partition}:sts::{account}:assumed-role/{parts[-1]}/{session}"
        parts, kind = arn.split(":", 5)[5].split("/"), "sts:assumed-role"
    if kind == "sts:assumed-role":
        if len(parts) < 3:
            raise InvalidToken(f"assumed-role arn {arn!r} does not have a role")
        session_name = parts[-1]
        if session is not None and session != session_name:
            raise InvalidToken(f"session {session!r} differs from the one in {arn}")
        if not _SESSION_NAME.fullmatch(session_name):
            raise InvalidToken(f"{session_name!r} is not a valid STS session name")
        role = "/".join(parts[1:-1])
        canonical = f"arn:{partition}:iam::{account}:role/{role}"
        return Caller(arn, canonical, account, session_name, "role", partition)
    if kind in ("iam:user", "iam:root", "sts:federated-user"):
        if session is not None:
            raise InvalidToken(f"{arn} is not a role and has no session")
        return Caller(arn, arn, account, "", kind.split(":", 1)[1], partition)
    raise InvalidToken(f"{arn!r} is not an identity STS returns")


# -- aws-auth as the authenticator parses it -----------------------------------------------------


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


# -- mapping ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Resolution:
    """The authenticator's answer for one caller, and why."""

    authenticated: bool
    username: str = ""
    groups: tuple[str, ...] = ()
    source: str = ""  # "access-entry" | "mapRoles" | "mapUsers" | "mapAccounts" | "" (none)
    reason: str = ""  # why it was refused, or which entry answered
    #: Answers the authenticator picks from at random (case-variant mapUsers, SSO overlaps).
    candidates: tuple[Resolution, ...] = ()

    @property
    def ambiguous(self) -> bool:
        return len(self.candidates) > 1

    def answer(self) -> tuple[bool, str, tuple[str, ...]]:
        """What the kube-apiserver sees."""
        return self.authenticated, self.username, self.groups


class _TemplateError(ValueError):
    pass


def render_template(
    template: str, caller: Caller, ec2_private_dns_names: Mapping[str, str] | None = None
) -> str:
    """`renderTemplate`. Test tokens carry no access key id, so `{{AccessKeyID}}` fails; the EC2
    lookup answers from `ec2_private_dns_names` (instance id → name) and fails without it."""
    if "{{EC2PrivateDNSName}}" in template:
        if not _INSTANCE_ID.fullmatch(caller.session_name):
            raise _TemplateError("SessionName did not contain an instance id")
        dns_name = (ec2_private_dns_names or {}).get(caller.session_name)
        if dns_name is None:
            raise _TemplateError(f"no EC2 private DNS name known for {caller.session_name}")
        template = template.replace("{{EC2PrivateDNSName}}", dns_name)
    template = template.replace("{{AccountID}}", caller.account_id)
    template = template.replace("{{SessionName}}", caller.session_name.replace("@", "-"))
    template = template.replace("{{SessionNameRaw}}", caller.session_name)
    if "{{AccessKeyID}}" in template:
        raise _TemplateError("an eks-test token has no access key id for {{AccessKeyID}}")
    return template


def _rendered(
    username: str,
    groups: Sequence[str],
    caller: Caller,
    source: str,
    reason: str,
    ec2: Mapping[str, str] | None,
) -> Resolution:
    try:
        return Resolution(
            True,
            render_template(username, caller, ec2),
            tuple(render_template(g, caller, ec2) for g in groups),
            source,
            reason,
        )
    except _TemplateError as exc:
        return Resolution(False, source=source, reason=f"{reason}: {exc}")


def _pick(matches: list[Resolution]) -> Resolution:
    """One answer, or a refusal listing the distinct answers a Go map walk picks from."""
    distinct = list({m.answer(): m for m in matches}.values())
    if len(distinct) == 1:
        return distinct[0]
    return Resolution(
        False,
        source=distinct[0].source,
        reason=f"ambiguous: {len(distinct)} entries map this ARN differently (Go map order)",
        candidates=tuple(distinct),
    )


def _arn_like(arn: str, pattern: str) -> bool:
    """`arn.ArnLike`: each of the six sections matched as a glob (`*` any, `?` at most one)."""
    subject, globs = arn.split(":", 5), pattern.split(":", 5)
    if len(subject) != 6 or len(globs) != 6 or subject[0] != "arn" or globs[0] != "arn":
        return False
    for value, glob in zip(subject, globs, strict=True):
        rx = "".join(
            ".*" if c == "*" else ".?" if c == "?" else "\\" + c if c in "\\.+()|[]{}^$" else c
            for c in glob
        )
        if not re.fullmatch(rx, value, re.DOTALL):
            return False
    return True


def _role_matches(role: RoleMapping, subject: str, sso_role_match: bool) -> bool:
    """`RoleMapping.Matches`: EqualFold on rolearn; an SSO pattern only behind the gate."""
    if role.role_arn:
        return go_fold(role.role_arn) == go_fold(subject)
    return sso_role_match and role.sso is not None and _arn_like(subject, role.sso.arn_like())


def resolve_config_map(
    aws_auth: AwsAuth,
    caller: Caller,
    *,
    sso_role_match: bool = False,
    ec2_private_dns_names: Mapping[str, str] | None = None,
) -> Resolution:
    """`ConfigMapMapper.Map`, then `IsAccountAllowed`, then the templates."""
    subject = caller.canonical_arn.lower()
    ec2 = ec2_private_dns_names
    roles = [
        _rendered(r.username, r.groups, caller, "mapRoles", f"mapRoles {r.key()}", ec2)
        for r in aws_auth.roles.values()
        if _role_matches(r, subject, sso_role_match)
    ]
    if roles:
        return _pick(roles)
    users = [
        _rendered(u.username, u.groups, caller, "mapUsers", f"mapUsers {u.user_arn}", ec2)
        for u in aws_auth.users.values()
        if go_fold(u.user_arn) == go_fold(subject)  # strings.EqualFold
    ]
    if users:
        return _pick(users)
    if caller.account_id in aws_auth.accounts:
        return Resolution(True, caller.canonical_arn, (), "mapAccounts", caller.account_id)
    return Resolution(False, reason=f"{caller.canonical_arn} is not mapped in aws-auth")


def access_entry_matches(principal_arn: str, caller: Caller) -> bool:
    """An entry names the IAM user or role (its ARN may carry a path; STS session ARNs never
    match). IAM names are unique per account whatever their case or path."""
    m = _IAM_PRINCIPAL.fullmatch(principal_arn)
    return (
        m is not None
        and m["kind"] == caller.kind
        and m["partition"] == caller.partition
        and m["account"] == caller.account_id
        and m["name"].lower() == caller.name.lower()
    )


def _access_entry_answer(
    entry: Mapping[str, Any], caller: Caller, ec2: Mapping[str, str] | None
) -> Resolution:
    principal = str(entry.get("principalArn", ""))
    kind = entry.get("type") or "STANDARD"
    username = entry.get("username") or ""
    if not username and kind != "STANDARD":
        return Resolution(False, source="access-entry", reason=f"{kind} entries are not modelled")
    if not username:  # the EKS default (set-custom-username), without the role's path
        username = (
            principal
            if caller.kind == "user"
            else f"arn:{caller.partition}:sts::{caller.account_id}:assumed-role/"
            f"{caller.name}/{{{{SessionName}}}}"
        )
    groups = list(entry.get("kubernetesGroups") or ())
    return _rendered(username, groups, caller, "access-entry", f"access entry {principal}", ec2)


def resolve_access_entries(
    access_entries: Sequence[Mapping[str, Any]],
    caller: Caller,
    *,
    ec2_private_dns_names: Mapping[str, str] | None = None,
) -> Resolution | None:
    """The access-entry answer for `caller`, or None when no entry names it."""
    matches = [
        _access_entry_answer(e, caller, ec2_private_dns_names)
        for e in access_entries
        if access_entry_matches(str(e.get("principalArn", "")), caller)
    ]
    return _pick(matches) if matches else None


def resolve(
    aws_auth_data: Mapping[str, str] | None,
    access_entries: Sequence[Mapping[str, Any]] | None,
    arn: str,
    session: str | None = None,
    *,
    authentication_mode: str | None = None,
    sso_role_match: bool = False,
    ec2_private_dns_names: Mapping[str, str] | None = None,
) -> Resolution:
    """Who the authenticator says `arn` (+ STS `session`) is.

    `aws_auth_data` is the ConfigMap's `data` (None: no ConfigMap). `access_entries` are
    `describe_access_entry()["accessEntry"]` dicts; None means no EKS cluster, so CONFIG_MAP
    mode, and otherwise the mode defaults to API_AND_CONFIG_MAP. `sso_role_match` is the
    authenticator's SSORoleMatch feature gate (off by default, and in this model).
    """
    try:
        caller = caller_identity(arn, session)
    except InvalidToken as exc:
        return Resolution(False, reason=str(exc))
    mode = authentication_mode or (CONFIG_MAP if access_entries is None else API_AND_CONFIG_MAP)
    if mode not in MODES:
        raise ValueError(f"unknown authentication mode {mode!r}")
    if mode != CONFIG_MAP:
        answer = resolve_access_entries(
            access_entries or (), caller, ec2_private_dns_names=ec2_private_dns_names
        )
        if answer is not None:
            return answer
        if mode == API:
            return Resolution(False, reason=f"no access entry for {caller.canonical_arn} (API)")
    return resolve_config_map(
        parse_aws_auth(aws_auth_data),
        caller,
        sso_role_match=sso_role_match,
        ec2_private_dns_names=ec2_private_dns_names,
    )


# -- live sources ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class EksCluster:
    """Where the model reads the authentication mode and access entries, with boto3's `eks`.

    The credentials pick the account on emulators that derive it from the access key; the
    default key is unusual on purpose, so a test can tell the model's calls from the bot's.
    """

    name: str
    endpoint_url: str
    region: str = "us-east-1"
    access_key_id: str = "AKIAEKSAUTHNMODEL000"
    secret_access_key: str = "authenticator-model-secret"


class _EksReader:
    def __init__(self, cluster: EksCluster) -> None:
        self.cluster = cluster
        self._eks = boto3.session.Session(
            aws_access_key_id=cluster.access_key_id,
            aws_secret_access_key=cluster.secret_access_key,
            region_name=cluster.region,
        ).client(
            "eks",
            endpoint_url=cluster.endpoint_url,
            config=BotoConfig(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=5),
        )

    def mode(self) -> str:
        described = self._eks.describe_cluster(name=self.cluster.name)["cluster"]
        return str(described.get("accessConfig", {}).get("authenticationMode") or CONFIG_MAP)

    def entries_naming(self, caller: Caller) -> list[dict[str, Any]]:
        entries = []
        for page in self._eks.get_paginator("list_access_entries").paginate(
            clusterName=self.cluster.name
        ):
            for principal in page.get("accessEntries", []):
                if not access_entry_matches(principal, caller):
                    continue
                try:
                    entries.append(
                        self._eks.describe_access_entry(
                            clusterName=self.cluster.name, principalArn=principal
                        )["accessEntry"]
                    )
                except ClientError as exc:  # deleted between list and describe
                    if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                        raise
        return entries

    def close(self) -> None:
        self._eks.close()


class _ConfigMapReader:
    """kube-system/aws-auth through an ApiClient of its own (admin), read on every review."""

    def __init__(self, kubeconfig: str) -> None:
        cfg = client.Configuration()
        config.load_kube_config(
            config_file=kubeconfig, client_configuration=cfg, persist_config=False
        )
        cfg.connection_pool_maxsize = 4
        self._api = client.ApiClient(cfg)

    def read(self) -> dict[str, str] | None:
        try:
            cm = client.CoreV1Api(self._api).read_namespaced_config_map("aws-auth", "kube-system")
        except client.ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return dict(cm.data or {})

    def close(self) -> None:
        self._api.close()


# -- the webhook -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Review:
    """One TokenReview: whom the token named and what the model answered."""

    arn: str | None  # None: not an eks-test token
    session: str | None
    resolution: Resolution


@dataclass
class _Settings:
    eks: _EksReader | None = None
    sso_role_match: bool = False
    ec2_private_dns_names: dict[str, str] = field(default_factory=dict)


class TokenReviewWebhook:
    """The model as an `authentication.k8s.io/v1beta1` TokenReview webhook on loopback HTTP.

    Each review reads what it needs live: the cluster's mode and the access entries naming the
    caller (when `use_eks` was given a cluster), and aws-auth (once `read_aws_auth_from` was
    given an admin kubeconfig). Case-variant mapUsers duplicates with different answers, which
    the real authenticator picks from at random, are refused here (logged as ambiguous), so a
    test never passes by luck.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._settings = _Settings()
        self._aws_auth: _ConfigMapReader | None = None
        self._reviews: list[Review] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="token-webhook", daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/authenticate"

    # -- configuration -------------------------------------------------------------------------

    def read_aws_auth_from(self, kubeconfig: str) -> None:
        """Read kube-system/aws-auth with this (admin) kubeconfig; until then, none is mapped."""
        reader = _ConfigMapReader(kubeconfig)
        with self._lock:
            old, self._aws_auth = self._aws_auth, reader
        if old is not None:
            old.close()

    def use_eks(self, cluster: EksCluster | None) -> None:
        """Consult this EKS API (mode, access entries) before aws-auth; None: aws-auth only."""
        reader = _EksReader(cluster) if cluster is not None else None
        with self._lock:
            old, self._settings.eks = self._settings.eks, reader
        if old is not None:
            old.close()

    def configure(
        self,
        *,
        sso_role_match: bool | None = None,
        ec2_private_dns_names: Mapping[str, str] | None = None,
    ) -> None:
        """The SSORoleMatch gate, and EC2 instance id → private DNS name for the node template."""
        with self._lock:
            if sso_role_match is not None:
                self._settings.sso_role_match = sso_role_match
            if ec2_private_dns_names is not None:
                self._settings.ec2_private_dns_names = dict(ec2_private_dns_names)

    def reset(self) -> None:
        """No EKS cluster, gates off, no EC2 names, no recorded reviews (aws-auth stays live)."""
        with self._lock:
            old, self._settings = self._settings, _Settings()
            self._reviews.clear()
        if old.eks is not None:
            old.eks.close()

    # -- reviews -------------------------------------------------------------------------------

    @property
    def reviews(self) -> list[Review]:
        with self._lock:
            return list(self._reviews)

    def reviews_of(self, arn: str) -> list[Review]:
        return [r for r in self.reviews if r.arn == arn]

    def review(self, token: str) -> Review:
        """Resolve `token` against the live sources, record it, and return it."""
        try:
            arn, session = parse_token(token)
        except InvalidToken as exc:
            review = Review(None, None, Resolution(False, reason=str(exc)))
        else:
            try:
                resolution = self._resolve_live(arn, session)
            except Exception as exc:  # a bug in the model: a recorded refusal, not a hung apiserver
                resolution = Resolution(False, reason=f"model error: {exc!r}")
            review = Review(arn, session, resolution)
        with self._lock:
            self._reviews.append(review)
        return review

    def _resolve_live(self, arn: str, session: str | None) -> Resolution:
        with self._lock:
            eks, aws_auth = self._settings.eks, self._aws_auth
            sso, ec2 = self._settings.sso_role_match, dict(self._settings.ec2_private_dns_names)
        try:
            caller = caller_identity(arn, session)
        except InvalidToken as exc:
            return Resolution(False, reason=str(exc))
        mode, entries = CONFIG_MAP, None
        try:
            if eks is not None:
                mode = eks.mode()
                entries = eks.entries_naming(caller) if mode != CONFIG_MAP else []
            data = aws_auth.read() if aws_auth is not None and mode != API else None
        except (ClientError, BotoCoreError, client.ApiException, OSError) as exc:
            return Resolution(False, reason=f"could not read the mappings: {exc}")
        return resolve(
            data,
            entries,
            arn,
            session,
            authentication_mode=mode,
            sso_role_match=sso,
            ec2_private_dns_names=ec2,
        )

    # -- lifecycle -----------------------------------------------------------------------------

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        self.use_eks(None)
        if self._aws_auth is not None:
            self._aws_auth.close()
            self._aws_auth = None

    def __enter__(self) -> TokenReviewWebhook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def token_review_status(review: Review) -> dict[str, Any]:
    """The `status` the authenticator sends (`authenticateEndpoint`), uid and extra included.

    A refusal is sent as 200 with `authenticated: false` (the authenticator sends 403, which the
    apiserver turns into the same 401 after logging an error).
    """
    resolution = review.resolution
    if not resolution.authenticated or review.arn is None:
        return {"authenticated": False}
    caller = caller_identity(review.arn, review.session)
    extra = {
        "arn": [caller.arn],
        "canonicalArn": [caller.canonical_arn],
        "sessionName": [caller.session_name],
        "principalId": [caller.principal_id],
        "sigs.k8s.io/aws-iam-authenticator/principalId": [caller.principal_id],
    }
    return {
        "authenticated": True,
        "user": {
            "username": resolution.username,
            "uid": f"aws-iam-authenticator:{caller.account_id}:{caller.principal_id}",
            "groups": list(resolution.groups),
            "extra": extra,
        },
    }


def _handler_for(webhook: TokenReviewWebhook) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # A reply's headers and body go out in two writes; with Nagle's algorithm the body
        # waits for the client's delayed ACK, 40 ms for most replies.
        disable_nagle_algorithm = True
        protocol_version = "HTTP/1.1"  # keep-alive: the apiserver reuses its connection

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
                token = str(body.get("spec", {}).get("token", ""))
            except (ValueError, AttributeError):
                self._reply(400, {"error": "expected a TokenReview"})
                return
            status = token_review_status(webhook.review(token))
            self._reply(
                200,
                {
                    "apiVersion": body.get("apiVersion") or "authentication.k8s.io/v1beta1",
                    "kind": "TokenReview",
                    "status": status,
                },
            )

        def _reply(self, code: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler
