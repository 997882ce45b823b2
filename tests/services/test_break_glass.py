"""Break-glass through the services, with fakes of our own ports: applied at once without
approval, announced, acknowledged once by an approver of the grant's cluster; every refusal a
sentence with nothing stored."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest

from bot.domain.commands import BreakGlassCommand
from bot.domain.durations import parse_duration
from bot.domain.errors import Conflict, Rejected
from bot.domain.grants import SYSTEM, Grant, GrantStatus
from bot.policy_file import parse_policy
from bot.services.acknowledge import AcknowledgeBreakGlass
from bot.services.break_glass import BreakGlass
from bot.services.revoke import RevokeGrant
from bot.services.sweep import SweepDue
from tests.services.fakes import POLICY, FakeDeps, FakeDirectory, make_deps, transient
from tests.services.test_grant_lifecycle import request

REASON = "INC-42 payments are down"


def policy() -> Any:
    doc: dict[str, Any] = copy.deepcopy(POLICY)
    doc["slack"]["alert_channel"] = "C0ALERTS"
    doc["profiles"]["incident-read"] = {
        "description": "Read pods during an incident",
        "namespaces": ["default", "payments"],
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}],
        "max_duration": "4h",
        "requesters": ["S0RESPONDERS", "U0CAROL"],
        "approvers": {"*": ["U0CAROL", "S0ONCALL"], "prod": ["U0DAVE"]},
        "break_glass": True,
        "break_glass_max_duration": "30m",
    }
    return parse_policy(doc)


def deps() -> FakeDeps:
    groups = {"S0ONCALL": {"U0ERIN"}, "S0RESPONDERS": {"U0ALICE"}}
    return make_deps(policy=policy(), directory=FakeDirectory(groups))


def broken(d: FakeDeps, text: str = "incident-read 20m", user: str = "U0ALICE", **kw: str) -> Grant:
    profile, duration = text.split()
    command = BreakGlassCommand(profile, parse_duration(duration), kw.pop("reason", REASON), **kw)
    return BreakGlass(d).execute(requester=user, command=command)


def test_applied_at_once_decided_by_the_bot_and_announced() -> None:
    d = deps()
    now = d.clock.now()
    grant = broken(d, namespace="payments")  # Alice requests through the S0RESPONDERS group
    assert grant.status is GrantStatus.ACTIVE and grant.break_glass
    assert (grant.decided_by, grant.decided_at) == (SYSTEM, now)
    assert grant.decision_note == f"break-glass: {REASON}" and grant.reason == REASON
    assert grant.expires_at == now + timedelta(minutes=20)
    assert grant.acknowledged_by is None
    assert d.clusters.get("dev").calls == ["ensure_mapping", "ensure_rbac"]
    assert ("payments", grant.id) in d.clusters.get("dev").bindings
    assert d.timers.armed[grant.id] == grant.expires_at
    trail = d.store.audit_trail(grant.id)
    assert [e.action for e in trail] == ["request.created", "grant.break_glass", "grant.activated"]
    assert trail[1].actor == "U0ALICE" and trail[1].detail == REASON
    assert d.notifier.messages() == ["break_glass", "approval_updated", "grant_active", "timeline"]


def _refused(d: FakeDeps, **kw: Any) -> str:
    with pytest.raises(Rejected) as e:
        broken(d, **kw)
    assert d.store.grants == {} and d.store.events == [] and d.notifier.sent == []
    return str(e.value)


@pytest.mark.parametrize(
    ("kwargs", "sentence"),
    [
        (
            {"text": "pods-read 20m", "namespace": "default"},
            "Profile `pods-read` does not allow break-glass; ask for it with "
            "`/eks-access grant`. Profiles you may break glass on: `incident-read`.",
        ),
        (
            {"text": "nope 20m"},
            "There is no profile `nope`. Profiles you may break glass on: `incident-read`.",
        ),
        (
            {"text": "incident-read 20m", "user": "U0DAVE", "namespace": "default"},
            "You may not request `incident-read`, so you cannot break glass on it. Profiles you "
            "may break glass on: none.",
        ),
        (
            {"text": "incident-read 45m", "namespace": "default"},
            "`45m` is longer than break-glass allows on `incident-read`: at most 30m. Ask for "
            "longer with `/eks-access grant`, which needs approval.",
        ),
        (
            {"text": "incident-read 5s", "namespace": "default"},
            "`5s` is shorter than `incident-read` allows: at least 10s.",
        ),
        (
            {"namespace": "default", "reason": "INC-42"},
            "Break-glass needs a reason of at least 10 characters (yours has 6)",
        ),
        (
            {"namespace": "kube-system"},
            "Namespace `kube-system` is not allowed for `incident-read`; allowed: `default`, "
            "`payments`.",
        ),
        ({}, "Which namespace? Add `ns=<name>`; `incident-read` allows `default`, `payments`."),
        ({"namespace": "default", "cluster": "staging"}, "There is no cluster `staging`."),
    ],
)
def test_refusals_are_sentences_and_store_nothing(kwargs: dict[str, Any], sentence: str) -> None:
    assert sentence in _refused(deps(), **kwargs)


def test_a_held_access_is_not_broken_into_again_but_a_pending_request_may_wait() -> None:
    d = deps()
    waiting = request(d, profile="incident-read", namespace="default")
    grant = broken(d, namespace="default")
    assert grant.status is GrantStatus.ACTIVE and grant.id != waiting.id
    assert d.store.grant(waiting.id).status is GrantStatus.PENDING
    with pytest.raises(Rejected, match="You already hold `incident-read` in `default` "):
        broken(d, namespace="default")


def test_a_cluster_not_answering_is_retried_and_the_sweep_finishes_it() -> None:
    d = deps()
    d.clusters.get("dev").fail_next.append(transient())
    grant = broken(d, namespace="default")
    assert grant.status is GrantStatus.ACTIVATING
    assert "grant_delayed" in d.notifier.messages()
    d.clock.advance(timedelta(seconds=5))
    SweepDue(d).execute()
    assert d.store.grant(grant.id).status is GrantStatus.ACTIVE


def test_a_crash_before_the_cluster_is_reached_is_finished_by_the_sweep() -> None:
    d = deps()
    d.clusters.get("dev").fail_next.append(RuntimeError("the process died here"))
    with pytest.raises(RuntimeError):
        broken(d, namespace="default")
    (grant,) = d.store.grants.values()
    assert grant.status is GrantStatus.ACTIVATING and d.notifier.messages() == ["break_glass"]
    SweepDue(d).execute()
    assert d.store.grant(grant.id).status is GrantStatus.ACTIVATING  # its lease still holds
    d.clock.advance(d.retry.lease)
    SweepDue(d).execute()
    assert d.store.grant(grant.id).status is GrantStatus.ACTIVE


# -- acknowledgement ---------------------------------------------------------------------------


def test_an_approver_acknowledges_once_and_the_second_click_hears_who() -> None:
    d = deps()
    grant = broken(d, namespace="default")
    d.clock.advance(timedelta(minutes=1))
    acknowledged = AcknowledgeBreakGlass(d).execute(grant_id=grant.id, actor="U0CAROL")
    assert acknowledged.acknowledged_by == "U0CAROL"
    assert acknowledged.acknowledged_at == d.clock.now()
    assert acknowledged.status is GrantStatus.ACTIVE  # nothing else changes
    assert d.store.audit_trail(grant.id)[-1].action == "grant.acknowledged"
    assert d.store.audit_trail(grant.id)[-1].actor == "U0CAROL"
    assert d.notifier.messages()[-1] == "approval_updated"
    before = (len(d.store.events), len(d.notifier.sent))
    for again in ("U0CAROL", "U0ERIN"):  # twice, or by a second approver (through S0ONCALL)
        with pytest.raises(
            Conflict, match=f"Break-glass `{grant.id}` was already acknowledged by U0CAROL."
        ):
            AcknowledgeBreakGlass(d).execute(grant_id=grant.id, actor=again)
    assert (len(d.store.events), len(d.notifier.sent)) == before
    assert d.store.grant(grant.id).acknowledged_by == "U0CAROL"


def test_a_group_approver_acknowledges() -> None:
    d = deps()
    grant = broken(d, namespace="default")
    assert AcknowledgeBreakGlass(d).execute(grant_id=grant.id, actor="U0ERIN").acknowledged_by


@pytest.mark.parametrize(
    ("cluster", "actor", "sentence"),
    [
        (
            "dev",
            "U0DAVE",
            "You are not an approver of `incident-read`; its approvers are U0CAROL, group S0ONCALL.",
        ),
        # On prod only Dave approves: Carol's click is refused there.
        (
            "prod",
            "U0CAROL",
            "You are not an approver of `incident-read`; its approvers are U0DAVE.",
        ),
    ],
)
def test_only_approvers_of_the_grants_cluster_acknowledge(
    cluster: str, actor: str, sentence: str
) -> None:
    d = deps()
    grant = broken(d, namespace="default", cluster=cluster)
    with pytest.raises(Rejected) as e:
        AcknowledgeBreakGlass(d).execute(grant_id=grant.id, actor=actor)
    assert str(e.value) == sentence
    assert d.store.grant(grant.id).acknowledged_by is None
    assert d.store.audit_trail(grant.id)[-1].action == "click.refused"


def test_nobody_acknowledges_their_own_break_glass() -> None:
    d = deps()
    grant = broken(d, user="U0CAROL", namespace="default")
    with pytest.raises(Rejected, match="cannot acknowledge your own break-glass access"):
        AcknowledgeBreakGlass(d).execute(grant_id=grant.id, actor="U0CAROL")


def test_an_ended_break_glass_is_still_acknowledged_but_an_ordinary_grant_is_not() -> None:
    d = deps()
    grant = broken(d, namespace="default")
    RevokeGrant(d).execute(grant_id=grant.id, actor="U0ALICE")
    assert d.store.grant(grant.id).status is GrantStatus.ENDED
    assert AcknowledgeBreakGlass(d).execute(grant_id=grant.id, actor="U0CAROL").acknowledged_by
    ordinary = request(d, namespace="default")
    with pytest.raises(Rejected, match="was approved as usual; there is nothing to acknowledge"):
        AcknowledgeBreakGlass(d).execute(grant_id=ordinary.id, actor="U0CAROL")
