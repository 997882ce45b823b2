"""Identity mappings as the bot's own `kube-system/aws-auth` entries (CONFIG_MAP clusters).

The edit is the pure `bot.domain.aws_auth` editor, which reads aws-auth the way the
authenticator does and refuses any edit that would change how it maps a principal the bot
does not own; `AwsAuthStore` does the conflict-safe I/O.

Changes that arrive together are written together: each caller queues its change and waits,
and one of them writes every queued change in one read-modify-write (`Combiner`,
`aws_auth_batch`). An approval being decided announces its change (`prefetch`), and a write
about to start waits up to FILL_WAIT for the changes announced. So 200 approvals landing at
once cost a few writes and a few parses of aws-auth, not 200 of each, while each caller still
gets its own answer or its own refusal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.adapters.kubernetes.aws_auth_store import OBJECT as AWS_AUTH
from bot.adapters.kubernetes.aws_auth_store import AwsAuthMissing, AwsAuthStore
from bot.adapters.kubernetes.combining import Combiner
from bot.domain import aws_auth
from bot.domain.aws_auth_batch import Outcome, edited_together
from bot.domain.aws_auth_entries import match_key
from bot.domain.errors import PermanentError
from bot.domain.grants import MappedIdentity, MappedVia
from bot.domain.principals import Identity, Principal
from bot.domain.usernames import username_for

#: The longest an aws-auth write waits for changes announced by approvals being decided.
FILL_WAIT = 0.04


class AwsAuthMapper:
    def __init__(self, store: AwsAuthStore) -> None:
        self._store = store
        # One queue per store, and the gateway keeps one store per cluster; stores that
        # share a cluster anyway (a reconnect) still take turns on the store's writer lock.
        self._batches: Combiner[_Change, MappedIdentity | None] = Combiner(
            lambda change: change.subject, fill_wait=FILL_WAIT
        )

    def ensure(self, identity: Identity) -> MappedIdentity:
        """Add the bot's entry unless the principal is mapped already; the username it gets."""
        mapped = self._batches.submit(_Ensure(identity), self._write)
        assert mapped is not None
        return mapped

    def remove(self, principal: Principal) -> None:
        self._batches.submit(_Remove(principal), self._write)

    def prefetch(self, identity: Identity) -> None:
        """An approval of `identity` is being decided: read aws-auth meanwhile, and let a
        write starting now wait briefly for its change (`Combiner.announce`). When no other
        change is under way, its edit is also computed on what is read, so that the write,
        which will most likely make that very edit on that very data, finds its parses
        cached (`AwsAuthStore.prefetch`)."""
        change = _Ensure(identity)
        self._batches.announce(change.subject)
        alone = self._batches.idle
        self._store.prefetch(warm=(lambda data: edited_together(data, [change])) if alone else None)

    def owned_arns(self) -> set[str]:
        data = self._store.read() or {}
        return {m.arn for m in aws_auth.owned_mappings(data)}

    def _write(self, changes: Sequence[_Change]) -> list[MappedIdentity | Exception | None]:
        """One read-modify-write for all `changes` (again on fresh data after a conflict)."""
        outcomes: list[Outcome] = []

        def edit(data: dict[str, str]) -> dict[str, str]:
            after, outcomes[:] = edited_together(data, changes)
            return after

        adds = any(isinstance(c, _Ensure) for c in changes)
        try:
            self._store.update(edit, create=adds)
        except AwsAuthMissing as missing:  # nothing to remove then; nowhere to add
            return [missing if isinstance(c, _Ensure) else None for c in changes]
        if not outcomes:  # no aws-auth, and only removals: nothing to do
            return [None] * len(changes)
        return [_answer(c, o) for c, o in zip(changes, outcomes, strict=True)]


@dataclass(frozen=True)
class _Ensure:
    identity: Identity

    @property
    def subject(self) -> str:
        return match_key(self.identity.principal.mapping_arn)

    @property
    def mapping(self) -> aws_auth.Mapping:
        principal = self.identity.principal
        return aws_auth.Mapping(
            kind=principal.kind,
            arn=principal.mapping_arn,
            username=self.identity.owned_username_template,
        )

    def plan(self, data: dict[str, str]) -> aws_auth.OwnEdit:
        arn = self.identity.principal.mapping_arn
        existing = aws_auth.resolve(data, arn)
        if existing is not None and not existing.owned:
            # Someone else maps this principal (an entry, or mapAccounts' default of the
            # ARN as username): the bot's entry would remap it, so theirs decides (`result`).
            return aws_auth.OwnEdit()
        if existing is not None and existing.username.lower() != self.mapping.username.lower():
            raise _other_form(self.identity, existing.username)
        try:
            return aws_auth.planned_mapping(data, self.mapping)
        except ValueError as exc:  # a foreign entry the authenticator itself drops
            raise aws_auth.AwsAuthUnsafeEdit(
                f"Cannot map {arn} in {AWS_AUTH}: {exc}. Fix or remove that entry first."
            ) from exc

    def result(self, after: dict[str, str]) -> MappedIdentity:
        """The username the authenticator gives the principal in `after`."""
        identity = self.identity
        arn = identity.principal.mapping_arn
        mapping = aws_auth.resolve(after, arn)
        if mapping is None:
            raise PermanentError(f"{arn} is still not mapped in {AWS_AUTH} after writing it")
        if mapping.owned:
            return MappedIdentity(identity.owned_username, MappedVia.AWS_AUTH)
        username = username_for(identity, mapping.username, where=f"an entry in {AWS_AUTH}")
        return MappedIdentity(username, MappedVia.EXISTING)


@dataclass(frozen=True)
class _Remove:
    principal: Principal

    @property
    def subject(self) -> str:
        return match_key(self.principal.mapping_arn)

    def plan(self, data: dict[str, str]) -> aws_auth.OwnEdit:
        return aws_auth.planned_removal(data, self.principal.mapping_arn)

    def result(self, after: dict[str, str]) -> None:
        return None


_Change = _Ensure | _Remove


def _answer(change: _Change, outcome: Outcome) -> MappedIdentity | Exception | None:
    if isinstance(outcome, Exception):
        return outcome
    try:
        return change.result(outcome)
    except Exception as refused:  # that caller's own failure
        return refused


def _other_form(identity: Identity, username: str) -> PermanentError:
    per_session = ":{{SessionName}}" in username
    return PermanentError(
        f"The bot already maps {identity.principal.arn} in {AWS_AUTH} as {username!r}, "
        + ("one username per session" if per_session else "one username for the whole role")
        + f", so it cannot also grant {identity.describe()}. Grants of one role use session "
        "names for everyone or for no one."
    )
