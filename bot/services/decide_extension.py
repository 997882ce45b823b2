"""An approver clicks Approve or Deny on a pending extension."""

from __future__ import annotations

from bot.domain import extension_transitions
from bot.domain.grants import Extension, ExtensionStatus
from bot.domain.refusals import AlreadyDecided, NoSuchExtension
from bot.services.approval import check_approver
from bot.services.deps import Deps
from bot.services.extend import apply_extension, check_extension


class DecideExtension:
    """Same guarantees as DecideRequest: re-checked approver, one winner, clear answers.
    The bounds are checked again at approval, since time has passed since the request."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def execute(self, *, extension_id: str, actor: str, approve: bool, note: str = "") -> Extension:
        deps = self.deps
        extension = deps.store.get_extension(extension_id)
        if extension is None:
            raise NoSuchExtension(extension_id)
        grant = deps.grant_or_fail(extension.grant_id)
        now = deps.clock.now()
        profile = check_approver(
            deps, grant, actor=actor, requester=extension.requested_by, what="extension", now=now
        )
        if extension.status is not ExtensionStatus.PENDING:
            raise AlreadyDecided(None, extension.status, extension.decided_by)
        if approve:
            check_extension(grant, profile, extension.duration, now)
        decided = deps.store.apply(
            extension_transitions.decide_extension(
                extension, actor=actor, approve=approve, note=note, now=now
            )
        )
        if decided is None:
            latest = deps.store.get_extension(extension.id) or extension
            raise AlreadyDecided(None, latest.status, latest.decided_by)
        if approve:
            grant = apply_extension(deps, grant, extension.duration, actor=actor, now=now)
        return decided
