"""Which aws-auth entry the authenticator uses for which IAM principal (kubernetes-sigs/aws-iam-authenticator, pkg/mapper/configmap).

A model of aws-iam-authenticator@81b1dab, `pkg/mapper/configmap` (ParseMap, saveMap, Map) and
`pkg/config/mapper.go` (Validate, Key, Matches):
- only the data keys `mapRoles`, `mapUsers` and `mapAccounts` count, spelled exactly so;
- each list is decoded as `aws_auth_entries` describes: field names in any letter case, a
  mistyped field stays empty, a list that is not a list is lost whole while the others stay;
- an entry without its ARN (or with both `rolearn` and `sso`) is skipped alone;
- roles are stored by lower-cased ARN (the last one wins), users by the ARN exactly as written;
  a lookup walks the stored entries and takes the first that matches, so when two match the
  winner is random (`Resolution.ambiguous`);
- roles first, then users, then `mapAccounts` (username = the canonical ARN, no groups).

`sso:` entries are taken to match: the SSORoleMatch feature gate is off in the open-source
authenticator, and whether EKS turns it on is not known, so the cautious reading is that
they may, and the bot leaves alone every principal one of them may map.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Literal

from bot.domain.aws_auth_entries import (
    Entry,
    ListKey,
    ListReading,
    Mapping,
    describe_mapping,
    go_lower,
    match_key,
    read_list,
)
from bot.domain.aws_auth_yaml import go_strings, skippable
from bot.domain.errors import PermanentError
from bot.domain.principals import Principal

_CALLER = re.compile(r"arn:[^:]*:iam::(?P<account>[0-9]{12}):(?P<kind>user|role)/")


class AwsAuthAmbiguous(PermanentError):
    """The authenticator picks one of several entries for a principal at random."""

    def __init__(self, found: Resolution) -> None:
        self.arn, self.source, self.candidates = found.arn, found.source, found.candidates
        entries = "; ".join(describe_mapping(m) for m in found.candidates)
        super().__init__(
            f"aws-auth maps {found.arn} by more than one entry of {found.source} ({entries}). "
            "The authenticator picks one of them at random (user ARNs that differ only in "
            "letter case, or an sso: entry that covers a rolearn entry), so the bot will not "
            f"change how {found.arn} is mapped until a person leaves only one of them."
        )


@dataclass(frozen=True)
class Resolution:
    """The authenticator's answer for the caller `arn`: one outcome, several, or none."""

    arn: str
    source: Literal["mapRoles", "mapUsers", "mapAccounts"] | None = None
    candidates: tuple[Mapping, ...] = ()

    @property
    def outcomes(self) -> frozenset[tuple[str, tuple[str, ...]]]:
        return frozenset((m.username, m.groups) for m in self.candidates)

    @property
    def ambiguous(self) -> bool:
        return len(self.outcomes) > 1

    @property
    def mapping(self) -> Mapping | None:
        """The entry used; None when unmapped or when the authenticator picks at random."""
        return self.candidates[-1] if self.candidates and not self.ambiguous else None

    @property
    def involves_owned(self) -> bool:
        return any(m.owned for m in self.candidates)

    def describe(self) -> str:
        if not self.candidates:
            return "not mapped"
        what = " or ".join(f"{u!r} with groups {list(g)}" for u, g in sorted(self.outcomes))
        return f"{'at random, ' if self.ambiguous else ''}{what} (from {self.source})"


_Stores = tuple[dict[str, list[Entry]], list[Entry], dict[str, list[Entry]]]
_Named = tuple[dict[str, list[Entry]], list[Entry]]


@dataclass(frozen=True)
class Reading:
    """aws-auth as the authenticator has loaded it."""

    roles: ListReading
    users: ListReading
    accounts: frozenset[str]

    def list(self, key: ListKey) -> ListReading:
        return self.roles if key == "mapRoles" else self.users

    def resolve(self, canonical_arn: str, *, owned: bool = True) -> Resolution:
        """What a caller with `canonical_arn` is mapped to (without the bot's entries: `owned`)."""
        subject = match_key(canonical_arn)
        role_index, sso_roles, user_index = self._with_owned if owned else self._foreign_only
        found = [*role_index.get(subject, ()), *(e for e in sso_roles if e.matches(subject))]
        if found:
            found.sort(key=lambda e: e.index)
            return Resolution(canonical_arn, "mapRoles", tuple(e.mapping for e in found))
        if subject in user_index:
            users = tuple(e.mapping for e in user_index[subject])
            return Resolution(canonical_arn, "mapUsers", users)
        caller = _CALLER.match(subject)
        if caller and caller["account"] in self.accounts:
            kind: Literal["user", "role"] = "user" if caller["kind"] == "user" else "role"
            default = Mapping(kind, canonical_arn, canonical_arn)
            return Resolution(canonical_arn, "mapAccounts", (default,))
        return Resolution(canonical_arn)

    def guarded_arns(self) -> dict[str, str]:
        """The callers the bot must never remap, by `match_key`: each ARN of an entry it did
        not write, and each ARN of its own entries that an `sso:` entry may also map."""
        return self._guarded

    @functools.cached_property  # a written aws-auth is the `before` of the next edit
    def _guarded(self) -> dict[str, str]:
        entries = [*self.roles.entries, *self.users.entries]
        ssos = [e for e in self.roles.entries if e.sso is not None and e.kept]
        found: dict[str, str] = {}
        for e in entries:
            if e.arn and (not e.owned or any(s.matches(match_key(e.arn)) for s in ssos)):
                found.setdefault(match_key(e.arn), e.arn)
        return found

    def entries_naming(self, subject: str) -> tuple[Entry, ...]:
        """Every entry, kept or not, that names the caller `subject` (`Entry.matches`):
        mapRoles first, each list in order. From an index, so a batch of edits that asks
        for each of its principals reads the lists once, not once per principal."""
        named, ssos = self._by_subject
        found = [*named.get(subject, ()), *(e for e in ssos if e.matches(subject))]
        found.sort(key=lambda e: (e.list_key != "mapRoles", e.index))
        return tuple(found)

    @functools.cached_property
    def _by_subject(self) -> _Named:
        """The entries with an ARN by its `match_key`, and the `sso:` entries."""
        named: dict[str, list[Entry]] = {}
        ssos: list[Entry] = []
        for e in (*self.roles.entries, *self.users.entries):
            if e.arn:
                named.setdefault(match_key(e.arn), []).append(e)
            elif e.sso is not None:
                ssos.append(e)
        return named, ssos

    @functools.cached_property
    def _with_owned(self) -> _Stores:
        return self._stores(owned=True)

    @functools.cached_property
    def _foreign_only(self) -> _Stores:
        return self._stores(owned=False)

    def _stores(self, *, owned: bool) -> _Stores:
        """The authenticator's role and user maps, indexed by the caller ARN they match."""
        roles: dict[str, Entry] = {}
        for e in self.roles.entries:
            if e.kept and (owned or not e.owned):
                roles[go_lower(e.arn) if e.sso is None else e.sso.pattern] = e
        users: dict[str, Entry] = {}
        for e in self.users.entries:
            if e.kept and (owned or not e.owned):
                users[e.arn] = e
        role_index: dict[str, list[Entry]] = {}
        user_index: dict[str, list[Entry]] = {}
        for index, stored in ((role_index, roles), (user_index, users)):
            for e in sorted(stored.values(), key=lambda e: e.index):
                if e.sso is None:
                    index.setdefault(match_key(e.arn), []).append(e)
        return role_index, [e for e in roles.values() if e.sso is not None], user_index


def read(data: dict[str, str]) -> Reading:
    """The whole of aws-auth `data` as the authenticator reads it."""
    return _read(data.get("mapRoles"), data.get("mapUsers"), data.get("mapAccounts"))


def canonical_arn(who: Principal | str) -> str:
    """The ARN the authenticator matches for `who`: a role's without its IAM path."""
    if isinstance(who, Principal):
        return who.mapping_arn
    try:
        return Principal.parse(who).mapping_arn
    except ValueError:
        return who


def resolution(data: dict[str, str], who: Principal | str) -> Resolution:
    return read(data).resolve(canonical_arn(who))


def resolve(data: dict[str, str], who: Principal | str) -> Mapping | None:
    """The entry the authenticator uses for `who` (None: unmapped); raises AwsAuthAmbiguous."""
    found = resolution(data, who)
    if found.ambiguous:
        raise AwsAuthAmbiguous(found)
    return found.mapping


@functools.lru_cache(maxsize=4)
def _read(roles: str | None, users: str | None, accounts: str | None) -> Reading:
    listed = frozenset() if accounts is None or skippable(accounts) else go_strings(accounts)
    return Reading(read_list("mapRoles", roles), read_list("mapUsers", users), frozenset(listed))
