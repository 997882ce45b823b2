"""For operator commands run without Slack: what the bot would have said is logged instead.

`eks-access sweep` without SLACK_BOT_TOKEN still revokes, times out and warns; each message
those changes owe is logged as not delivered, with the grant it concerns.
"""

from __future__ import annotations

import logging

from bot.domain.grants import Extension, Grant
from bot.domain.policy import ClusterConfig, Profile
from bot.domain.ports import Alert, MessageRef

log = logging.getLogger(__name__)


def _undelivered(message: str, grant_id: str) -> None:
    log.warning(
        "not delivered (no SLACK_BOT_TOKEN): %s for grant %s",
        message,
        grant_id,
        extra={"grant_id": grant_id},
    )


class UndeliveredNotifier:
    def approval_requested(self, grant: Grant, profile: Profile) -> MessageRef | None:
        _undelivered("the approval request", grant.id)
        return None

    def approval_updated(self, grant: Grant) -> None:
        _undelivered(f"the approval message update ({grant.status.label})", grant.id)

    def grant_active(self, grant: Grant, cluster: ClusterConfig) -> None:
        _undelivered("the access-is-active DM", grant.id)

    def grant_denied(self, grant: Grant) -> None:
        _undelivered("the denied DM", grant.id)

    def grant_ended(self, grant: Grant) -> None:
        _undelivered("the access-ended DM", grant.id)

    def grant_delayed(self, grant: Grant) -> None:
        _undelivered("the cluster-not-answering DM", grant.id)

    def request_timed_out(self, grant: Grant) -> None:
        _undelivered("the timed-out DM", grant.id)

    def expiry_warning(self, grant: Grant) -> None:
        _undelivered("the expiry warning", grant.id)

    def extension_requested(self, extension: Extension, grant: Grant) -> MessageRef | None:
        _undelivered("the extension request", grant.id)
        return None

    def extension_decided(self, extension: Extension, grant: Grant) -> None:
        _undelivered(f"the extension outcome ({extension.status.value})", grant.id)

    def alert(self, alert: Alert) -> None:
        _undelivered(f"an alert ({type(alert).__name__})", alert.grant.id)

    def close(self) -> None:
        pass


class NoDirectory:
    """Without Slack nobody's groups or email can be read: fail closed."""

    def groups_of(self, user_id: str, candidates: tuple[str, ...]) -> frozenset[str]:
        return frozenset()

    def email_of(self, user_id: str) -> str | None:
        return None
