"""IAM principals and the people behind them, as the EKS authenticator sees them (aws-iam-authenticator and EKS access entries).

A `Principal` is an IAM user or role. An `Identity` is what one person presents: a principal
and, for a role, the STS session name they sign in with. Many people may share one role (IAM
Identity Center permission sets); only the session name tells them apart, so every username
the bot binds RBAC to is rendered for the person, exactly as the authenticator renders it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

_ARN = re.compile(
    r"^arn:(?P<partition>aws|aws-cn|aws-us-gov):iam::(?P<account>\d{12}):"
    r"(?P<kind>user|role)/(?P<path>(?:[\w+=,.@-]+/)*)(?P<name>[\w+=,.@-]{1,128})$",
    re.ASCII,  # IAM names are ASCII; \w and \d would otherwise accept any script's letters
)
_ASSUMED_ROLE = re.compile(
    r"^arn:(?P<partition>aws|aws-cn|aws-us-gov):sts::(?P<account>\d{12}):"
    r"assumed-role/(?P<name>[\w+=,.@-]{1,64})/(?P<session>[\w+=,.@-]{2,64})$",
    re.ASCII,
)
#: What STS accepts as a RoleSessionName.
SESSION_NAME = re.compile(r"^[\w+=,.@-]{2,64}$", re.ASCII)

OWNED_USERNAME_PREFIX = "eks-access:"
SESSION_TEMPLATE = "{{SessionName}}"
#: Placeholders the authenticator fills from facts the bot cannot know for a person.
UNRENDERABLE = ("{{EC2PrivateDNSName}}", "{{AccessKeyID}}")


class UnrenderableUsername(ValueError):
    """A username or group template the bot cannot render for this person.

    `template` is what the entry says; `missing` the placeholder that cannot be filled.
    """

    def __init__(self, template: str, missing: str) -> None:
        super().__init__(f"{template!r} needs {missing}, which the bot cannot know in advance")
        self.template = template
        self.missing = missing


@dataclass(frozen=True)
class Principal:
    """An IAM user or role."""

    arn: str
    kind: Literal["user", "role"]
    account: str
    name: str
    path: str = ""

    @classmethod
    def parse(cls, arn: str) -> Principal:
        m = _ARN.match(arn.strip())
        if not m:
            raise ValueError(
                f"{arn!r} is not an IAM user or role ARN "
                "(expected arn:aws:iam::<12-digit account>:user/<name> or :role/<name>)"
            )
        kind: Literal["user", "role"] = "user" if m["kind"] == "user" else "role"
        return cls(arn=arn.strip(), kind=kind, account=m["account"], name=m["name"], path=m["path"])

    @property
    def partition(self) -> str:
        return self.arn.split(":")[1]

    @property
    def mapping_arn(self) -> str:
        """The ARN to write into aws-auth.

        The authenticator canonicalises an assumed-role ARN to `role/NAME` without the path, so a
        `rolearn` with a path never matches; user ARNs are kept as configured.
        """
        if self.kind == "role" and self.path:
            return f"arn:{self.partition}:iam::{self.account}:role/{self.name}"
        return self.arn

    @property
    def key(self) -> str:
        """One principal, however its ARN is spelled (path or not, any letter case)."""
        return f"{self.account}:{self.kind}/{self.name}".lower()

    @property
    def username(self) -> str:
        """The fixed Kubernetes username the bot gives this principal in its own entries."""
        return f"{OWNED_USERNAME_PREFIX}{self.account}:{self.kind}/{self.name}"

    @property
    def session_username(self) -> str:
        """The templated username of the bot's own entry for a role shared by many people."""
        return f"{self.username}:{SESSION_TEMPLATE}"

    def owns_username(self, username: str) -> bool:
        """Whether `username` is one the bot writes for this principal (fixed or per session).

        The exact derived name, not a prefix: an administrator may well map the bot's own IAM
        role as `eks-access:bot`, and reconcile would then take that entry for an orphan.
        """
        return username.lower() in (self.username.lower(), self.session_username.lower())


@dataclass(frozen=True)
class Identity:
    """What one person presents to AWS: an IAM user, a role, or a role and a session name."""

    principal: Principal
    #: The STS session name this person signs in with (roles only); None: not known.
    session: str | None = None

    @classmethod
    def parse(cls, arn: str, session: str | None = None) -> Identity:
        """An IAM user or role ARN (optionally with `session`), or an assumed-role ARN.

        `arn:aws:sts::ACCT:assumed-role/ROLE/SESSION` means role ROLE with session SESSION:
        the ARN STS reports for a session never carries the role's IAM path.
        """
        assumed = _ASSUMED_ROLE.match(arn.strip())
        if assumed:
            if session is not None and session != assumed["session"]:
                raise ValueError(
                    f"{arn!r} already names the session {assumed['session']!r}; "
                    f"drop `session: {session}` or make them agree"
                )
            role = f"arn:{assumed['partition']}:iam::{assumed['account']}:role/{assumed['name']}"
            return cls(Principal.parse(role), assumed["session"])
        principal = Principal.parse(arn)
        if session is not None:
            if principal.kind != "role":
                raise ValueError(
                    f"{arn!r} is an IAM user; only roles are signed in to with a session name"
                )
            if not SESSION_NAME.match(session):
                raise ValueError(
                    f"{session!r} is not an STS session name (2 to 64 of letters, digits "
                    "and + = , . @ _ -)"
                )
        return cls(principal, session)

    @property
    def shared(self) -> bool:
        """A role signed in to per session: the session name is what tells people apart."""
        return self.session is not None

    @property
    def owned_username_template(self) -> str:
        """The username of the bot's own entry: per session for a shared role."""
        return self.principal.session_username if self.shared else self.principal.username

    @property
    def owned_username(self) -> str:
        return self.render(self.owned_username_template)

    def render(self, template: str) -> str:
        """`template` (an entry's username or group) as the authenticator renders it for me.

        `{{AccountID}}`, `{{SessionName}}` (with `@` as `-`) and `{{SessionNameRaw}}` are
        filled; other text stays as it is, as it does in the authenticator. An IAM user has an
        empty session name there. Raises UnrenderableUsername for what only the login knows.
        """
        for placeholder in UNRENDERABLE:
            if placeholder in template:
                raise UnrenderableUsername(template, placeholder)
        session = self.session
        if session is None:
            if self.principal.kind == "role" and "{{SessionName" in template:
                raise UnrenderableUsername(template, "the session name")
            session = ""
        return (
            template.replace("{{AccountID}}", self.principal.account)
            .replace("{{SessionName}}", session.replace("@", "-"))
            .replace("{{SessionNameRaw}}", session)
        )

    @property
    def assumed_role_arn(self) -> str | None:
        """The ARN STS reports for this person's session; None for users and unknown sessions."""
        if self.principal.kind != "role" or self.session is None:
            return None
        p = self.principal
        return f"arn:{p.partition}:sts::{p.account}:assumed-role/{p.name}/{self.session}"

    def describe(self) -> str:
        """Plain words for messages: the ARN, and the session for a shared role."""
        if self.session is None:
            return self.principal.arn
        return f"{self.principal.arn} (session {self.session})"
