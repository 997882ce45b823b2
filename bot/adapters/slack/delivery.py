"""What each notice says in Slack, and to whom: one Web API call (or two) per notice.

A notice is rendered from the grant and extension as they are when it is delivered, so the
approval message always shows the current state. Every delivery may be repeated (a crash
between Slack's answer and the outbox's record of it), so the approval message is posted only
while the grant has none.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient

from bot.adapters.slack import approvals, blocks
from bot.adapters.slack.break_glass_delivery import BreakGlassDelivery
from bot.adapters.slack.timeline import timeline_text
from bot.adapters.storage.repository import SqlGrantStore
from bot.domain import extension_transitions, transitions
from bot.domain.grants import EndReason, Extension, Grant, GrantStatus
from bot.domain.notices import Notice, NoticeKind, TimelineEvent
from bot.domain.policy import Policy, Profile


class SlackDelivery:
    def __init__(
        self,
        client: WebClient,
        policy: Policy,
        store: SqlGrantStore,
        publish_home: Callable[[str], None] | None = None,
    ) -> None:
        """`publish_home(user)`: publishes that user's App Home (bot.adapters.slack.home)."""
        self.client = client
        self.policy = policy
        self.store = store
        self.break_glass = BreakGlassDelivery(client, policy, store)
        self.publish_home = publish_home

    def deliver(self, notice: Notice) -> None:
        """Make the Slack calls the notice stands for; Slack's errors propagate (the outbox
        worker sorts them). A notice about a grant the database no longer has says nothing."""
        grant = self.store.get_grant(notice.grant_id)
        if grant is None:
            return
        kind = notice.kind
        if grant.break_glass and kind in BreakGlassDelivery.KINDS:
            self.break_glass.deliver(kind, grant)
        elif kind in (NoticeKind.EXTENSION_REQUESTED, NoticeKind.EXTENSION_DECIDED):
            extension = self.store.get_extension(notice.extension_id or "")
            if extension is not None:
                self._extension(kind, extension, grant)
        elif kind is NoticeKind.APPROVAL_REQUESTED:
            self._approval_request(grant)
        elif kind is NoticeKind.APPROVAL_UPDATED:
            if grant.approval_channel and grant.approval_ts:
                self._update(
                    grant.approval_channel,
                    grant.approval_ts,
                    f"Request {grant.id}: {grant.status.label}",
                    blocks.approval_message(grant, self.policy.profiles.get(grant.profile)),
                )
        elif kind is NoticeKind.REMINDER:
            self._remind(grant)
        elif kind is NoticeKind.HOME_REFRESH:
            if self.publish_home is not None:
                self.publish_home(notice.detail or grant.requester)
        elif kind is NoticeKind.TIMELINE:
            if grant.approval_channel and grant.approval_ts:  # no approval message, no thread
                self.client.chat_postMessage(
                    channel=grant.approval_channel,
                    thread_ts=grant.approval_ts,
                    text=timeline_text(grant, TimelineEvent(notice.detail)),
                )
        elif kind in (NoticeKind.ACTIVATION_FAILED, NoticeKind.STILL_FAILING):
            self.client.chat_postMessage(
                channel=self.policy.alerts_to, text=alert_text(kind, grant, notice.detail)
            )
        else:
            text, blocks_ = self._direct_message(kind, grant)
            self.client.chat_postMessage(channel=grant.requester, text=text, blocks=blocks_)

    def _approval_request(self, grant: Grant) -> None:
        if grant.approval_ts:  # posted already, before a crash kept the outbox from knowing
            return
        profile = self.policy.profiles.get(grant.profile)
        if profile is None:
            return
        channel, ts = self._post_for_approval(
            profile,
            f"<@{grant.requester}> requests {grant.profile} on {grant.cluster}/{grant.namespace}"
            f" · {approvals.who_decides(grant, profile)}",
            blocks.approval_message(grant, profile),  # auto-approved: information, no buttons
        )
        self.store.apply(transitions.note_approval_message(grant, channel=channel, ts=ts))

    def _remind(self, grant: Grant) -> None:
        """A reply in the approval message's thread, while the request waits."""
        profile = self.policy.profiles.get(grant.profile)
        if grant.status is not GrantStatus.PENDING or profile is None:
            return  # decided in between: nobody needs reminding
        if grant.approval_channel and grant.approval_ts:
            self.client.chat_postMessage(
                channel=grant.approval_channel,
                thread_ts=grant.approval_ts,
                text=approvals.reminder_text(grant, profile),
            )

    def _extension(self, kind: NoticeKind, extension: Extension, grant: Grant) -> None:
        if kind is NoticeKind.EXTENSION_REQUESTED:
            if extension.approval_ts:
                return
            channel, ts = self._post_for_approval(
                self.policy.profiles.get(grant.profile),
                f"<@{extension.requested_by}> asks to extend {grant.id}",
                blocks.extension_request(extension, grant),
            )
            noted = extension_transitions.note_extension_message(extension, channel=channel, ts=ts)
            self.store.apply(noted)
            return
        outcome = blocks.extension_outcome(extension, grant)
        text = f"Extension of {grant.id}: {extension.status.value}"
        if extension.approval_channel and extension.approval_ts:
            self._update(extension.approval_channel, extension.approval_ts, text, outcome)
        self.client.chat_postMessage(channel=grant.requester, text=text, blocks=outcome)

    def _post_for_approval(
        self, profile: Profile | None, text: str, blocks_: list[dict[str, Any]]
    ) -> tuple[str, str]:
        """Post to the profile's approval channel; where the message is, to update it later."""
        channel = self.policy.approval_channel_of(profile) if profile else None
        resp = self.client.chat_postMessage(
            channel=channel or self.policy.approval_channel, text=text, blocks=blocks_
        )
        return str(resp["channel"]), str(resp["ts"])

    def _update(self, channel: str, ts: str, text: str, blocks_: list[dict[str, Any]]) -> None:
        self.client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks_)

    def _direct_message(
        self, kind: NoticeKind, grant: Grant
    ) -> tuple[str, list[dict[str, Any]] | None]:
        if kind is NoticeKind.GRANT_ACTIVE:
            cluster = self.policy.cluster(grant.cluster) or self.policy.default_cluster
            return (
                f"Your access {grant.profile} is active (request {grant.id})",
                blocks.access_active(grant, cluster),
            )
        if kind is NoticeKind.EXPIRY_WARNING:
            return f"Your access {grant.id} ends soon", blocks.expiry_warning(grant)
        return direct_text(kind, grant), None


def direct_text(kind: NoticeKind, grant: Grant) -> str:
    """The plain direct messages to the requester."""
    if kind is NoticeKind.GRANT_DENIED:
        note = f" Reason: {grant.decision_note}" if grant.decision_note else ""
        return (
            f":no_entry: Your request `{grant.id}` for *{grant.profile}* was denied by "
            f"<@{grant.decided_by}>.{blocks.escape(note)}"
        )
    if kind is NoticeKind.GRANT_DELAYED:
        return (
            f":gear: Your request `{grant.id}` for *{grant.profile}* was "
            f"{approvals.approved_by(grant, capital=False)}, but cluster `{grant.cluster}` is "
            "not answering yet. The bot keeps trying and tells you as soon as your access is active."
        )
    if kind is NoticeKind.REQUEST_TIMED_OUT:
        return (
            f":hourglass_flowing_sand: Your request `{grant.id}` for *{grant.profile}* got no "
            "decision in time and was closed. Ask again if you still need it."
        )
    assert kind is NoticeKind.GRANT_ENDED, kind
    if grant.end_reason is EndReason.FAILED:
        return (
            f":x: Your request `{grant.id}` for *{grant.profile}* was approved but could not "
            f"be applied: {blocks.escape(grant.end_detail or '')}. Nothing was left behind."
        )
    if grant.end_reason is EndReason.REVOKED:
        return f":lock: Your access `{grant.id}` (*{grant.profile}*) was revoked by <@{grant.ended_by}>."
    return f":lock: Your access `{grant.id}` (*{grant.profile}*) has expired and was removed."


def alert_text(kind: NoticeKind, grant: Grant, error: str) -> str:
    if kind is NoticeKind.ACTIVATION_FAILED:
        return (
            f":x: Grant `{grant.id}` for <@{grant.requester}> could not be applied: "
            f"{grant.end_detail}"
        )
    verb = "revoke" if grant.status is GrantStatus.REVOKING else "activate"
    return (
        f":warning: eks-access cannot {verb} grant `{grant.id}` (<@{grant.requester}>, "
        f"`{grant.profile}` on `{grant.cluster}`/`{grant.namespace}`) after {grant.attempts} "
        f"attempts: {error}. It keeps retrying."
    )
