"""The Slack messages of a break-glass grant: its announcement in the approval and alert
channels (posted where it is not yet, so a repeated delivery posts nothing twice), both kept
up to date, and the requester's DM."""

from __future__ import annotations

from typing import Any

from slack_sdk import WebClient

from bot.adapters.slack import break_glass
from bot.adapters.storage.repository import SqlGrantStore
from bot.domain import transitions
from bot.domain.break_glass import note_alert_message
from bot.domain.grants import Grant
from bot.domain.notices import NoticeKind
from bot.domain.policy import Policy


class BreakGlassDelivery:
    #: What this delivers for a break-glass grant, instead of the usual message.
    KINDS = frozenset(
        {
            NoticeKind.BREAK_GLASS,
            NoticeKind.APPROVAL_UPDATED,
            NoticeKind.GRANT_ACTIVE,
            NoticeKind.GRANT_DELAYED,
        }
    )

    def __init__(self, client: WebClient, policy: Policy, store: SqlGrantStore) -> None:
        self.client = client
        self.policy = policy
        self.store = store

    def deliver(self, kind: NoticeKind, grant: Grant) -> None:
        if kind is NoticeKind.BREAK_GLASS:
            self._announce(grant)
        elif kind is NoticeKind.APPROVAL_UPDATED:
            for channel, ts in self._messages(grant):
                self.client.chat_update(channel=channel, ts=ts, **self._message(grant))
        elif kind is NoticeKind.GRANT_DELAYED:  # nobody approved it: say what it is instead
            self.client.chat_postMessage(
                channel=grant.requester, text=break_glass.delayed_text(grant)
            )
        else:
            cluster = self.policy.cluster(grant.cluster) or self.policy.default_cluster
            self.client.chat_postMessage(
                channel=grant.requester,
                text=f"Your break-glass access {grant.profile} is active (request {grant.id})",
                blocks=break_glass.access_active_dm(grant, cluster, self.policy),
            )

    def _announce(self, grant: Grant) -> None:
        approvals, *rest = break_glass.channels(self.policy, grant)
        if not grant.approval_ts:
            channel, ts = self._post(approvals, grant)
            self.store.apply(transitions.note_approval_message(grant, channel=channel, ts=ts))
        if rest and not grant.alert_ts:
            channel, ts = self._post(rest[0], grant)
            self.store.apply(note_alert_message(grant, channel=channel, ts=ts))

    def _post(self, channel: str, grant: Grant) -> tuple[str, str]:
        resp = self.client.chat_postMessage(channel=channel, **self._message(grant))
        return str(resp["channel"]), str(resp["ts"])

    def _message(self, grant: Grant) -> dict[str, Any]:
        profile = self.policy.profiles.get(grant.profile)
        description = profile.description if profile else ""
        return {
            "text": break_glass.announcement_text(grant),
            "blocks": break_glass.announcement(grant, description),
        }

    @staticmethod
    def _messages(grant: Grant) -> list[tuple[str, str]]:
        found = []
        if grant.approval_channel and grant.approval_ts:
            found.append((grant.approval_channel, grant.approval_ts))
        if grant.alert_channel and grant.alert_ts:
            found.append((grant.alert_channel, grant.alert_ts))
        return list(dict.fromkeys(found))
