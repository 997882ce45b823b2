"""aws-auth entries as the authenticator decodes them, and which of them are the bot's own.

`read_list` takes one list value through `aws_auth_yaml` and Go's encoding/json into the
authenticator's RoleMapping or UserMapping (pkg/config/types.go): field names match in any
letter case, a mistyped field stays empty, a list that is not a list is lost whole
(`ListReading.problem`), and `Entry.kept` says whether `Validate()` keeps an entry.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any, Literal

from bot.domain.aws_auth_yaml import (
    GoField,
    Lost,
    describe_value,
    go_document,
    go_struct,
    skippable,
)
from bot.domain.principals import Principal

ListKey = Literal["mapRoles", "mapUsers"]
LIST_KEYS: tuple[ListKey, ...] = ("mapRoles", "mapUsers")  # in the order the authenticator looks
KIND_OF_LIST: dict[ListKey, Literal["role", "user"]] = {"mapRoles": "role", "mapUsers": "user"}
LIST_OF_KIND: dict[str, ListKey] = {"role": "mapRoles", "user": "mapUsers"}
ARN_FIELD = {"mapRoles": "rolearn", "mapUsers": "userarn"}

_SSO_FIELDS = ("permissionsetname", "accountid", "partition")
_FIELDS: dict[str, dict[str, GoField]] = {  # RoleMapping and UserMapping, pkg/config/types.go
    "mapRoles": {
        "rolearn": "string",
        "sso": _SSO_FIELDS,
        "username": "string",
        "groups": "[]string",
    },
    "mapUsers": {"userarn": "string", "username": "string", "groups": "[]string"},
}
_PARTITIONS = frozenset(
    ["aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-eusc"]
)
_ACCOUNT_ID = re.compile(r"[0-9]{12}\Z")
_PERMISSION_SET = re.compile(r"[0-9A-Za-z_+=,.@-]{1,32}\Z")  # Go's \w is ASCII
# The non-ASCII letters strings.EqualFold takes for ASCII ones: KELVIN SIGN and LONG S.
_ARN_FOLD = {"\u212a": "k", "\u017f": "s"}


def owns(arn: str, username: str) -> bool:
    """The bot's entries carry a username it derives from their ARN (`Principal.owns_username`).

    A prefix alone is not enough: an administrator may well map the bot's own IAM role as
    `eks-access:bot`, and reconcile would then take that entry for an orphan and remove it.
    """
    if arn != arn.strip():
        return False  # never matches a caller, so it is nobody's entry
    try:  # ARNs match case-insensitively in the authenticator, so here too
        return Principal.parse(arn.lower()).owns_username(username)
    except ValueError:
        return False


def match_key(arn: str) -> str:
    """`arn` folded as strings.EqualFold compares it with a caller's lower-cased ASCII ARN."""
    if arn.isascii():  # every real ARN: one C call instead of one per character
        return arn.lower()
    return "".join(_ARN_FOLD.get(c, c.lower() if c.isascii() else c) for c in arn)


@dataclass(frozen=True)
class Mapping:
    """One `mapRoles` (kind "role") or `mapUsers` (kind "user") entry."""

    kind: Literal["user", "role"]
    arn: str
    username: str
    groups: tuple[str, ...] = ()

    @property
    def owned(self) -> bool:
        return owns(self.arn, self.username)

    def entry(self) -> dict[str, Any]:
        """The entry as the bot writes it."""
        arn_key = ARN_FIELD[LIST_OF_KIND[self.kind]]
        return {arn_key: self.arn, "username": self.username, "groups": list(self.groups)}


def describe_mapping(mapping: Mapping) -> str:
    return f"{mapping.arn} as {mapping.username!r} with groups {list(mapping.groups)}"


@dataclass(frozen=True)
class Sso:
    """An `sso:` role entry: any role of an IAM Identity Center permission set in an account."""

    permission_set: str
    account: str
    partition: str

    @property
    def valid(self) -> bool:
        return bool(
            _ACCOUNT_ID.match(self.account)
            and _PERMISSION_SET.match(self.permission_set)
            and (self.partition == "" or self.partition in _PARTITIONS)
        )

    @functools.cached_property  # matched against every principal an edit checks
    def pattern(self) -> str:
        """`SSOArnLike`; an explicit partition yields `arn::iam::…`, which matches no ARN."""
        partition = "aws" if self.partition == "" else ""
        role = f"role/AWSReservedSSO_{self.permission_set}_*"
        return go_lower(f"arn:{partition}:iam::{self.account}:{role}")

    def matches(self, subject: str) -> bool:
        return not self.partition and subject.startswith(self.pattern[:-1])


@dataclass(frozen=True)
class Entry:
    """Item `index` of a list, decoded as the authenticator decodes it."""

    list_key: ListKey
    index: int
    arn: str = ""
    username: str = ""
    groups: tuple[str, ...] = ()
    sso: Sso | None = None

    @property
    def kept(self) -> bool:
        """Whether it passes `Validate()`, so the authenticator stores it."""
        if self.sso is None:
            return self.arn != ""
        return self.arn == "" and self.sso.valid

    @functools.cached_property
    def owned(self) -> bool:
        return self.kept and self.arn != "" and owns(self.arn, self.username)

    @property
    def mapping(self) -> Mapping:
        arn = self.sso.pattern if self.sso is not None else self.arn
        return Mapping(KIND_OF_LIST[self.list_key], arn, self.username, self.groups)

    def matches(self, subject: str) -> bool:
        """Whether the entry names the caller `subject` (an `sso:` entry only when valid)."""
        if self.arn:
            return match_key(self.arn) == subject
        return self.sso is not None and self.kept and self.sso.matches(subject)


@dataclass(frozen=True)
class ListReading:
    """One list as the authenticator loads it; `problem` says why it is lost whole."""

    key: ListKey
    entries: tuple[Entry, ...] = ()
    problem: str | None = None


@functools.lru_cache(maxsize=4)  # an edit reads each text several times; 1 MiB takes ~1 s
def read_list(key: ListKey, text: str | None) -> ListReading:
    """List `key` (its `data` value `text`, None when absent) as the authenticator loads it."""
    if text is None or skippable(text):
        return ListReading(key)
    try:
        value = go_document(text)
    except Lost as lost:
        return ListReading(key, problem=str(lost))
    if value is None:
        return ListReading(key)
    if not isinstance(value, list):
        return ListReading(
            key, problem=f"it holds {describe_value(value)} where a list is expected"
        )
    return ListReading(key, tuple(_entry(key, n, item) for n, item in enumerate(value)))


def _entry(key: ListKey, index: int, item: Any) -> Entry:
    fields = go_struct(item, _FIELDS[key])
    sso = fields.get("sso")
    return Entry(
        key,
        index,
        arn=fields.get(ARN_FIELD[key], ""),
        username=fields.get("username", ""),
        groups=tuple(fields.get("groups") or ()),
        sso=None if sso is None else Sso(*(sso.get(f, "") for f in _SSO_FIELDS)),
    )


def go_lower(text: str) -> str:
    """strings.ToLower, which maps each rune alone (Python lower-cases İ to two)."""
    return "".join("i" if c == "\u0130" else c.lower() for c in text)
