"""Identity mappings as the bot's own `kube-system/aws-auth` entries (CONFIG_MAP clusters).

The edit is the pure `bot.domain.aws_auth` editor, which reads aws-auth the way the
authenticator does and refuses any edit that would change how it maps a principal the bot
does not own; `AwsAuthStore` does the conflict-safe I/O.
"""

from __future__ import annotations

from bot.adapters.kubernetes.aws_auth_store import OBJECT as AWS_AUTH
from bot.adapters.kubernetes.aws_auth_store import AwsAuthStore
from bot.domain import aws_auth
from bot.domain.errors import PermanentError
from bot.domain.grants import MappedIdentity, MappedVia
from bot.domain.principals import Identity, Principal
from bot.domain.usernames import username_for


class AwsAuthMapper:
    def __init__(self, store: AwsAuthStore) -> None:
        self._store = store

    def ensure(self, identity: Identity) -> MappedIdentity:
        """Add the bot's entry unless the principal is mapped already; the username it gets."""
        principal = identity.principal
        arn = principal.mapping_arn
        owned = aws_auth.Mapping(
            kind=principal.kind, arn=arn, username=identity.owned_username_template
        )

        def add_unless_mapped(data: dict[str, str]) -> dict[str, str]:
            # Runs between our read and our write (again after a conflict), so it decides on
            # the data it is about to change.
            existing = aws_auth.resolve(data, arn)
            if existing is not None and not existing.owned:
                # Someone else maps this principal (an entry, or mapAccounts' default of the
                # ARN as username): the bot's entry would remap it, so theirs decides (below).
                return data
            if existing is not None and existing.username.lower() != owned.username.lower():
                raise _other_form(identity, existing.username)
            try:
                return aws_auth.with_mapping(data, owned)
            except ValueError as exc:  # a foreign entry the authenticator itself drops
                raise aws_auth.AwsAuthUnsafeEdit(
                    f"Cannot map {arn} in {AWS_AUTH}: {exc}. Fix or remove that entry first."
                ) from exc

        data = self._store.update(add_unless_mapped, create=True) or {}
        mapping = aws_auth.resolve(data, arn)
        if mapping is None:
            raise PermanentError(f"{arn} is still not mapped in {AWS_AUTH} after writing it")
        if mapping.owned:
            return MappedIdentity(identity.owned_username, MappedVia.AWS_AUTH)
        username = username_for(identity, mapping.username, where=f"an entry in {AWS_AUTH}")
        return MappedIdentity(username, MappedVia.EXISTING)

    def remove(self, principal: Principal) -> None:
        arn = principal.mapping_arn
        self._store.update(lambda data: aws_auth.without_mapping(data, arn), create=False)

    def owned_arns(self) -> set[str]:
        data = self._store.read() or {}
        return {m.arn for m in aws_auth.owned_mappings(data)}


def _other_form(identity: Identity, username: str) -> PermanentError:
    per_session = ":{{SessionName}}" in username
    return PermanentError(
        f"The bot already maps {identity.principal.arn} in {AWS_AUTH} as {username!r}, "
        + ("one username per session" if per_session else "one username for the whole role")
        + f", so it cannot also grant {identity.describe()}. Grants of one role use session "
        "names for everyone or for no one."
    )
