"""Who the authenticator says a caller is: access entries, then aws-auth, then the templates.

`pkg/server/server.go::doMapping` and `::renderTemplate`: access entries first when the cluster's
authentication mode allows them, then mapRoles, mapUsers and mapAccounts; templates rendered
last. Everything here is a pure function of the parsed sources, so a test can check one rule
without a cluster; `resolve` is the entry point.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tests.support.authenticator.aws_auth import AwsAuth, RoleMapping, go_fold, parse_aws_auth
from tests.support.authenticator.tokens import Caller, InvalidToken, caller_identity

CONFIG_MAP, API_AND_CONFIG_MAP, API = "CONFIG_MAP", "API_AND_CONFIG_MAP", "API"
MODES = (CONFIG_MAP, API_AND_CONFIG_MAP, API)
#: `pkg/server/server.go::instanceIDPattern`.
_INSTANCE_ID = re.compile(r"i-(\w{8}|\w{17})", re.ASCII)
_IAM_PRINCIPAL = re.compile(
    r"arn:(?P<partition>[^:]*):iam::(?P<account>[0-9]{12}):"
    r"(?P<kind>user|role)/(?:[^/]+/)*(?P<name>[^/]+)"
)


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
