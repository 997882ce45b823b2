"""Quorum, auto-approval and reminders through the services, with fakes of our own ports."""

from __future__ import annotations

import copy
import threading
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from bot.domain import transitions
from bot.domain.auto_approval import AUTO_APPROVED
from bot.domain.commands import GrantCommand
from bot.domain.durations import parse_duration
from bot.domain.errors import TransientError
from bot.domain.grants import SYSTEM, Grant, GrantStatus
from bot.domain.refusals import AlreadyDecided, ApprovalAlreadyCounted, OwnDecision
from bot.domain.transition_values import GrantTransition
from bot.policy_file import parse_policy
from bot.services.activate import ActivateGrant
from bot.services.decide import DecideRequest
from bot.services.remind import RemindApprovers
from bot.services.request_access import RequestAccess
from bot.services.sweep import SweepDue
from tests.services.fakes import POLICY, FakeDeps, FakeDirectory, FakeStore, make_deps

CAROL, ERIN, FRANK, ALICE = "U0CAROL", "U0ERIN", "U0FRANK", "U0ALICE"


def deps_with(**pods_read: Any) -> FakeDeps:
    doc: dict[str, Any] = copy.deepcopy(POLICY)
    doc["profiles"]["pods-read"].update(pods_read)
    groups = {"S0ONCALL": {ERIN, FRANK}, "S0SRE": {ALICE}}
    return make_deps(policy=parse_policy(doc), directory=FakeDirectory(groups))


def request(deps: FakeDeps, user: str = ALICE, duration: str = "2h") -> Grant:
    command = GrantCommand("pods-read", parse_duration(duration), namespace="default")
    return RequestAccess(deps).execute(requester=user, command=command)


def vote(deps: FakeDeps, grant: Grant, actor: str) -> Grant:
    return DecideRequest(deps).execute(grant_id=grant.id, actor=actor, approve=True)


# -- quorum ------------------------------------------------------------------------------------


def test_a_quorum_of_two_waits_for_the_second_distinct_approver() -> None:
    deps = deps_with(approvals=2)
    grant = request(deps)
    first = vote(deps, grant, CAROL)
    assert first.status is GrantStatus.PENDING and first.approvals == (CAROL,)
    assert deps.clusters.get("dev").calls == []  # nothing applied on one vote
    with pytest.raises(ApprovalAlreadyCounted) as again:
        vote(deps, grant, CAROL)
    assert str(again.value) == (
        f"Your approval of `{grant.id}` is already counted (1 of 2); it needs 1 more from "
        "other approvers."
    )
    second = vote(deps, grant, ERIN)  # through the on-call group
    assert second.status is GrantStatus.ACTIVE and second.approvals == (CAROL, ERIN)
    assert second.decided_by == ERIN
    trail = deps.store.audit_trail(grant.id)
    assert [(e.action, e.actor, e.detail) for e in trail[:3]] == [
        ("request.created", ALICE, "pods-read 2h ns=default"),
        ("request.approval", CAROL, "1 of 2"),
        ("request.approved", ERIN, "2 of 2"),
    ]
    assert deps.notifier.messages()[:3] == [
        "approval_requested",
        "approval_updated",
        "approval_updated",
    ]
    with pytest.raises(AlreadyDecided, match="already approved by U0ERIN"):
        vote(deps, grant, FRANK)


def test_a_counted_vote_is_no_longer_waiting_for_that_approver() -> None:
    from bot.adapters.slack.commands import answer

    deps = deps_with(approvals=2)
    grant = request(deps)
    assert f"`{grant.id}`" in answer(deps, user=CAROL, text="list")
    vote(deps, grant, CAROL)
    assert f"`{grant.id}`" not in answer(deps, user=CAROL, text="list")
    assert f"`{grant.id}`" in answer(deps, user=ERIN, text="list")
    assert "(2 must approve)" in answer(deps, user=ALICE, text="profiles")


def test_only_the_deciding_approval_starts_reading_the_cluster() -> None:
    """The vote that completes the quorum hints the cluster before its decision is written;
    a vote short of it and a denial do not."""
    deps = deps_with(approvals=2)
    cluster = deps.clusters.get("dev")
    grant, denied = request(deps), request(deps, user=CAROL)
    vote(deps, grant, CAROL)
    DecideRequest(deps).execute(grant_id=denied.id, actor=ERIN, approve=False)
    assert cluster.prepared == []
    vote(deps, grant, ERIN)
    assert cluster.prepared == [grant.principal_arn]


def test_one_deny_ends_a_request_that_has_approvals_already() -> None:
    deps = deps_with(approvals=3)
    grant = request(deps)
    vote(deps, grant, CAROL)
    vote(deps, grant, ERIN)
    denied = DecideRequest(deps).execute(grant_id=grant.id, actor=FRANK, approve=False)
    assert denied.status is GrantStatus.DENIED and denied.approvals == (CAROL, ERIN)
    with pytest.raises(AlreadyDecided, match="already denied"):
        vote(deps, grant, FRANK)


def test_the_requester_never_counts_unless_self_approval_and_then_once() -> None:
    deps = deps_with(approvals=2, approvers=[ALICE, CAROL, "S0ONCALL"])
    grant = request(deps)
    with pytest.raises(OwnDecision):
        vote(deps, grant, ALICE)
    assert deps.store.grant(grant.id).approvals == ()

    deps = deps_with(approvals=2, approvers=[ALICE, CAROL], self_approval=True)
    grant = request(deps)
    assert vote(deps, grant, ALICE).approvals == (ALICE,)
    with pytest.raises(ApprovalAlreadyCounted):
        vote(deps, grant, ALICE)
    assert vote(deps, grant, CAROL).status is GrantStatus.ACTIVE


class LosesFirstRace(FakeStore):
    """Lets another approver's vote land between this vote's read and its write."""

    def __init__(self, other: str) -> None:
        super().__init__()
        self.other = other
        self.raced = False

    def apply(self, transition: Any) -> Any:
        if (
            isinstance(transition, GrantTransition)
            and not self.raced
            and "approvals" in (transition.changes)
        ):
            self.raced = True
            grant = self.grants[transition.grant_id]
            self.grants[grant.id] = replace(grant, approvals=(*grant.approvals, self.other))
        return super().apply(transition)


def test_a_vote_that_loses_a_race_is_counted_again_on_what_it_re_reads() -> None:
    deps = deps_with(approvals=3)
    store = LosesFirstRace(other=FRANK)
    deps = make_deps(policy=deps.policy, directory=deps.directory, store=store)
    grant = request(deps)
    counted = vote(deps, grant, CAROL)
    assert counted.status is GrantStatus.PENDING and counted.approvals == (FRANK, CAROL)
    assert vote(deps, grant, ERIN).status is GrantStatus.ACTIVE


def test_concurrent_votes_of_a_quorum_count_each_once_and_activate_once() -> None:
    deps = deps_with(approvals=2)
    grant = request(deps)
    answers: list[str] = []

    def click(actor: str) -> None:
        try:
            answers.append(vote(deps, grant, actor).status.value)
        except (AlreadyDecided, ApprovalAlreadyCounted) as e:
            answers.append(type(e).__name__)

    threads = [threading.Thread(target=click, args=(a,)) for a in [CAROL, ERIN, FRANK] * 4]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    final = deps.store.grant(grant.id)
    assert final.status is GrantStatus.ACTIVE and len(set(final.approvals)) == 2
    assert len(final.approvals) == 2
    actions = deps.store.actions()
    assert actions.count("request.approval") == 1 and actions.count("request.approved") == 1
    assert actions.count("grant.activated") == 1
    assert answers.count("active") == 1 and answers.count("pending") == 1


def test_a_vote_that_keeps_losing_gives_up_with_a_sentence() -> None:
    class AlwaysLoses(FakeStore):
        def apply(self, transition: Any) -> Any:
            if isinstance(transition, GrantTransition) and "approvals" in transition.changes:
                return None
            return super().apply(transition)

    deps = deps_with(approvals=2)
    deps = make_deps(policy=deps.policy, directory=deps.directory, store=AlwaysLoses())
    grant = request(deps)
    with pytest.raises(TransientError, match="Many approvals landed at once"):
        vote(deps, grant, CAROL)


# -- auto-approval -----------------------------------------------------------------------------


@pytest.mark.parametrize("requester", [ALICE, "U0DAVE"])
def test_auto_approval_by_id_or_group_is_stored_approved_in_one_go(requester: str) -> None:
    deps = deps_with(auto_approve={"requesters": ["S0SRE", "U0DAVE"], "max_duration": "1h"})
    grant = request(deps, user=requester, duration="1h")
    assert grant.status is GrantStatus.ACTIVATING and grant.decided_by == SYSTEM
    assert grant.expires_at == deps.clock.now() + timedelta(hours=1)
    assert grant.next_attempt_at == deps.clock.now() + deps.retry.lease
    assert [(e.action, e.actor, e.detail) for e in deps.store.audit_trail(grant.id)] == [
        ("request.created", requester, "pods-read 1h ns=default"),
        ("request.approved", SYSTEM, AUTO_APPROVED),
    ]
    assert deps.notifier.messages() == ["approval_requested"]
    active = ActivateGrant(deps).execute(grant_id=grant.id, grant=grant)
    assert active.status is GrantStatus.ACTIVE


def test_auto_approval_stops_at_its_max_duration_and_its_requesters() -> None:
    deps = deps_with(auto_approve={"requesters": ["S0SRE"], "max_duration": "1h"})
    assert request(deps, duration="61m").status is GrantStatus.PENDING
    assert request(deps, user="U0DAVE", duration="1h").status is GrantStatus.PENDING


def test_the_sweep_activates_an_auto_approval_whose_activation_never_ran() -> None:
    deps = deps_with(auto_approve={"requesters": ["S0SRE"], "max_duration": "1h"})
    grant = request(deps, duration="30m")  # and the process dies before activating it
    deps.clock.advance(deps.retry.lease)
    SweepDue(deps).execute()
    assert deps.store.grant(grant.id).status is GrantStatus.ACTIVE


# -- reminders ---------------------------------------------------------------------------------


def posted(deps: FakeDeps, grant: Grant) -> Grant:
    """The approval message was posted (the delivery notes where)."""
    noted = replace(grant, approval_channel="C0APPROVALS", approval_ts="1.2")
    deps.store.grants[grant.id] = noted
    return noted


def test_a_pending_request_is_reminded_once_per_remind_after_until_it_times_out() -> None:
    deps = deps_with(remind_after="30m", pending_timeout="2h")
    grant = posted(deps, request(deps))
    remind = RemindApprovers(deps)
    deps.clock.advance(timedelta(minutes=29))
    assert remind.execute(now=deps.clock.now()) == 0
    deps.clock.advance(timedelta(minutes=1))
    assert SweepDue(deps).execute().reminded == 1
    assert remind.execute(now=deps.clock.now()) == 0  # once per remind_after
    assert deps.store.grant(grant.id).reminded_at == deps.clock.now()
    deps.clock.advance(timedelta(minutes=30))
    assert remind.execute(now=deps.clock.now()) == 1
    deps.clock.advance(timedelta(minutes=60))  # 2h: timed out, nobody is reminded of it
    assert remind.execute(now=deps.clock.now()) == 0
    assert deps.notifier.messages().count("reminder") == 2
    assert deps.store.actions().count("request.reminded") == 2


def test_no_reminder_for_a_decided_request_or_one_not_posted_yet() -> None:
    deps = deps_with(remind_after="10m")
    decided = posted(deps, request(deps))
    vote(deps, decided, CAROL)
    request(deps, user="U0DAVE")  # its approval message is not posted yet
    deps.clock.advance(timedelta(hours=1))
    assert RemindApprovers(deps).execute(now=deps.clock.now()) == 0


def test_of_two_sweeps_reading_the_same_request_one_reminds() -> None:
    deps = deps_with(remind_after="10m")
    grant = posted(deps, request(deps))
    deps.clock.advance(timedelta(minutes=10))
    read_by_both = deps.store.reminders_due(deps.clock.now(), timedelta(minutes=10))
    assert [g.id for g in read_by_both] == [grant.id]
    now = deps.clock.now()
    assert deps.store.apply(transitions.remind(read_by_both[0], now=now)) is not None
    assert deps.store.apply(transitions.remind(read_by_both[0], now=now)) is None
