"""Slack user-group membership, read live and cached briefly."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from slack_sdk import WebClient

log = logging.getLogger(__name__)


class SlackDirectory:
    """Approver groups are re-read at click time; the cache only absorbs bursts of clicks.
    If Slack cannot say, the answer is "not a member": fail closed."""

    def __init__(
        self,
        client: WebClient,
        *,
        ttl: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.ttl = ttl
        self.monotonic = monotonic
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def groups_of(self, user_id: str, candidates: tuple[str, ...]) -> frozenset[str]:
        return frozenset(g for g in candidates if user_id in self._members(g))

    def email_of(self, user_id: str) -> str | None:
        """Read live each time: the email names the person's AWS session (users:read.email)."""
        try:
            resp = self.client.users_info(user=user_id)
        except Exception as e:
            log.warning("cannot read the Slack profile of %s: %s", user_id, e)
            return None
        email = ((resp.get("user") or {}).get("profile") or {}).get("email")
        return str(email) if email else None

    def _members(self, group: str) -> frozenset[str]:
        now = self.monotonic()
        with self._lock:
            cached = self._cache.get(group)
        if cached and now - cached[0] < self.ttl:
            return cached[1]
        try:
            resp = self.client.usergroups_users_list(usergroup=group)
            members = frozenset(resp.get("users") or [])
        except Exception as e:
            log.warning("cannot read members of user group %s: %s", group, e)
            return frozenset()
        with self._lock:
            self._cache[group] = (now, members)
        return members


class NoDirectory:
    """For operator commands, which run without Slack: nobody's groups or email can be read,
    so every check that needs them fails closed."""

    def groups_of(self, user_id: str, candidates: tuple[str, ...]) -> frozenset[str]:
        return frozenset()

    def email_of(self, user_id: str) -> str | None:
        return None
