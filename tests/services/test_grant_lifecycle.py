"""The whole lifecycle through the services, with fakes of our own ports and a fake clock."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from bot.domain.commands import GrantCommand
from bot.domain.errors import Conflict, NotFound, PermanentError, Rejected
from bot.domain.grants import EndReason, ExtensionStatus, GrantStatus
from bot.services.decide import DecideRequest
from bot.services.decide_extension import DecideExtension
from bot.services.deps import Deps
from bot.services.extend import RequestExtension
from bot.services.request_access import RequestAccess
from bot.services.revoke import RevokeGrant
from bot.services.sweep import SweepDue
from tests.services.fakes import make_deps, transient


def request(
    deps: Deps, user: str = "U0ALICE", profile: str = "pods-read", duration: str = "2h", **kw: str
):
    from bot.domain.durations import parse_duration

    return RequestAccess(deps).execute(
        requester=user, command=GrantCommand(profile, parse_duration(duration), **kw)
    )


def approved(deps: Deps, **kw: str):
    grant = request(deps, **kw)
    return DecideRequest(deps).execute(grant_id=grant.id, actor="U0CAROL", approve=True)


def test_request_is_pending_and_posted_for_approval() -> None:
    deps = make_deps()
    grant = request(deps, namespace="payments", reason="INC-42")
    assert grant.status is GrantStatus.PENDING
    assert grant.namespace == "payments" and grant.reason == "INC-42"
    assert deps.notifier.names() == ["approval_requested", "home_refresh"]
    assert deps.store.actions() == ["request.created"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"profile": "nope"}, "There is no profile `nope`. Profiles you may request: `pods-read`"),
        ({"profile": "self-view", "user": "U0DAVE"}, "You may not request `self-view`"),
        ({"user": "U0NOBODY"}, "You have no IAM identity"),
        ({"duration": "5s"}, "between 10s and 4h"),
        ({"duration": "5h"}, "between 10s and 4h"),
        (
            {"namespace": "kube-system"},
            "Namespace `kube-system` is not allowed for `pods-read`; allowed: `default`, `payments`",
        ),
        ({"cluster": "staging"}, "There is no cluster `staging`. Clusters: `dev`, `prod`"),
        ({"profile": "self-view", "cluster": "prod"}, "is not granted on `prod`"),
    ],
)
def test_bad_requests_are_refused_with_a_sentence_and_store_nothing(kwargs, message) -> None:
    deps = make_deps()
    with pytest.raises(Rejected) as e:
        request(deps, **{"namespace": "default", **kwargs})
    assert message in str(e.value)
    assert deps.store.grants == {} and deps.notifier.sent == []


def test_namespace_must_be_chosen_when_the_profile_allows_several() -> None:
    with pytest.raises(Rejected, match="Which namespace"):
        request(make_deps())


def test_duplicate_open_request_is_refused() -> None:
    deps = make_deps()
    first = request(deps, namespace="default")
    with pytest.raises(Rejected, match=f"already have request `{first.id}`"):
        request(deps, namespace="default")


def test_approval_applies_mapping_then_binding_and_tells_everyone() -> None:
    deps = make_deps()
    grant = approved(deps, namespace="default")
    assert grant.status is GrantStatus.ACTIVE
    assert grant.expires_at == deps.clock.now() + timedelta(hours=2)
    cluster = deps.clusters.get("dev")
    assert cluster.calls == ["ensure_mapping", "ensure_rbac"]
    assert cluster.mappings == {
        "arn:aws:iam::111122223333:user/alice": "eks-access:111122223333:user/alice"
    }
    assert deps.timers.armed[grant.id] == grant.expires_at
    assert {"approval_updated", "grant_active"} <= set(deps.notifier.names())
    assert deps.store.actions()[-2:] == ["request.approved", "grant.activated"]


@pytest.mark.parametrize(
    ("actor", "message"),
    [("U0DAVE", "You are not an approver of `pods-read`"), ("U0ALICE", "You are not an approver")],
)
def test_only_approvers_decide(actor: str, message: str) -> None:
    deps = make_deps()
    grant = request(deps, namespace="default")
    with pytest.raises(Rejected, match=message):
        DecideRequest(deps).execute(grant_id=grant.id, actor=actor, approve=True)
    assert deps.store.grant(grant.id).status is GrantStatus.PENDING
    assert "click.refused" in deps.store.actions()


def test_group_approver_is_accepted() -> None:
    deps = make_deps()
    grant = request(deps, namespace="default")
    result = DecideRequest(deps).execute(grant_id=grant.id, actor="U0ERIN", approve=True)
    assert result.status is GrantStatus.ACTIVE and result.decided_by == "U0ERIN"


def test_requester_cannot_approve_own_request_unless_self_approval() -> None:
    deps = make_deps()
    policy_approver_requests = request(deps, user="U0CAROL", namespace="default")
    with pytest.raises(Rejected, match="cannot approve or deny your own request"):
        DecideRequest(deps).execute(
            grant_id=policy_approver_requests.id, actor="U0CAROL", approve=True
        )
    own = request(deps, profile="self-view")
    assert (
        DecideRequest(deps).execute(grant_id=own.id, actor="U0ALICE", approve=True).status
        is GrantStatus.ACTIVE
    )


def test_second_click_says_who_decided_and_changes_nothing() -> None:
    deps = make_deps()
    grant = approved(deps, namespace="default")
    with pytest.raises(Conflict, match="already approved by U0CAROL"):
        DecideRequest(deps).execute(grant_id=grant.id, actor="U0ERIN", approve=False)
    assert deps.clusters.get("dev").calls == ["ensure_mapping", "ensure_rbac"]


def test_concurrent_approvals_produce_exactly_one_grant() -> None:
    deps = make_deps()
    grant = request(deps, namespace="default")
    outcomes: list[str] = []

    def click(actor: str) -> None:
        try:
            DecideRequest(deps).execute(grant_id=grant.id, actor=actor, approve=True)
            outcomes.append("won")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=click, args=(a,)) for a in ["U0CAROL", "U0ERIN"] * 5]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("won") == 1 and outcomes.count("conflict") == 9
    assert deps.clusters.get("dev").calls.count("ensure_rbac") == 1


def test_unknown_request_id() -> None:
    with pytest.raises(NotFound, match="no request `zzzzzzzz`"):
        DecideRequest(make_deps()).execute(grant_id="zzzzzzzz", actor="U0CAROL", approve=True)


def test_deny_tells_the_requester_with_the_reason() -> None:
    deps = make_deps()
    grant = request(deps, namespace="default")
    denied = DecideRequest(deps).execute(
        grant_id=grant.id, actor="U0CAROL", approve=False, note="use staging"
    )
    assert denied.status is GrantStatus.DENIED and denied.decision_note == "use staging"
    assert "grant_denied" in deps.notifier.names()
    assert deps.clusters.get("dev").calls == []


def test_transient_failure_keeps_activating_and_the_sweep_finishes_it() -> None:
    deps = make_deps()
    cluster = deps.clusters.get("dev")
    cluster.fail_next.append(transient())
    grant = approved(deps, namespace="default")
    assert grant.status is GrantStatus.ACTIVATING and grant.attempts == 1
    assert "apiserver unreachable" in grant.last_error
    deps.clock.advance(timedelta(seconds=3))
    SweepDue(deps).execute()
    assert deps.store.grant(grant.id).status is GrantStatus.ACTIVE


def test_alert_once_after_repeated_failures() -> None:
    deps = make_deps()
    cluster = deps.clusters.get("dev")
    cluster.fail_next.extend(transient() for _ in range(5))
    grant = approved(deps, namespace="default")
    for _ in range(5):
        deps.clock.advance(timedelta(minutes=3))
        SweepDue(deps).execute()
    assert deps.notifier.names().count("still_failing") == 1
    assert deps.store.grant(grant.id).status is GrantStatus.ACTIVE


def test_permanent_failure_leaves_nothing_half_applied() -> None:
    deps = make_deps()
    cluster = deps.clusters.get("dev")
    original = cluster.ensure_rbac

    def refuse(rbac):  # the mapping was written, then RBAC is refused
        raise PermanentError("forbidden: cannot bind role")

    cluster.ensure_rbac = refuse  # type: ignore[method-assign]
    grant = approved(deps, namespace="default")
    cluster.ensure_rbac = original  # type: ignore[method-assign]
    assert grant.status is GrantStatus.ENDED and grant.end_reason is EndReason.FAILED
    assert "cannot bind role" in grant.end_detail
    assert cluster.mappings == {} and cluster.bindings == {}
    assert "activation_failed" in deps.notifier.names()


def test_expiry_revokes_binding_then_mapping() -> None:
    deps = make_deps()
    grant = approved(deps, namespace="default")
    deps.clock.advance(timedelta(hours=2, seconds=1))
    report = SweepDue(deps).execute()
    ended = deps.store.grant(grant.id)
    assert report.expired == 1
    assert ended.status is GrantStatus.ENDED and ended.end_reason is EndReason.EXPIRED
    cluster = deps.clusters.get("dev")
    assert cluster.calls[-2:] == ["delete_rbac", "remove_mapping"]
    assert cluster.mappings == {} and cluster.bindings == {}
    assert "grant_ended" in deps.notifier.names()


def test_mapping_stays_while_another_grant_of_the_principal_needs_it() -> None:
    deps = make_deps()
    first = approved(deps, namespace="default")
    second = approved(deps, namespace="payments")
    RevokeGrant(deps).execute(grant_id=first.id, actor="U0ALICE")
    cluster = deps.clusters.get("dev")
    assert cluster.mappings and ("payments", second.id) in cluster.bindings
    RevokeGrant(deps).execute(grant_id=second.id, actor="U0CAROL")
    assert cluster.mappings == {} and cluster.bindings == {}


def test_revoke_is_retried_while_the_cluster_is_down_and_shown_as_revoking() -> None:
    deps = make_deps()
    grant = approved(deps, namespace="default")
    cluster = deps.clusters.get("dev")
    cluster.fail_next.append(transient())
    deps.clock.advance(timedelta(hours=3))
    SweepDue(deps).execute()
    assert deps.store.grant(grant.id).status is GrantStatus.REVOKING
    deps.clock.advance(timedelta(seconds=40))
    SweepDue(deps).execute()
    assert deps.store.grant(grant.id).status is GrantStatus.ENDED
    assert cluster.bindings == {}


def test_only_requester_or_approver_revokes() -> None:
    deps = make_deps()
    grant = approved(deps, namespace="default")
    with pytest.raises(Rejected, match="Only the requester or an approver"):
        RevokeGrant(deps).execute(grant_id=grant.id, actor="U0DAVE")
    assert deps.store.grant(grant.id).status is GrantStatus.ACTIVE


def test_revoke_of_pending_withdraws_it() -> None:
    deps = make_deps()
    grant = request(deps, namespace="default")
    assert (
        RevokeGrant(deps).execute(grant_id=grant.id, actor="U0ALICE").status
        is GrantStatus.CANCELLED
    )
    with pytest.raises(Conflict, match="already cancelled"):
        RevokeGrant(deps).execute(grant_id=grant.id, actor="U0ALICE")


def test_pending_request_times_out() -> None:
    deps = make_deps()
    grant = request(deps, namespace="default")
    deps.clock.advance(timedelta(hours=4, seconds=1))
    assert SweepDue(deps).execute().timed_out == 1
    assert deps.store.grant(grant.id).status is GrantStatus.TIMED_OUT
    assert "request_timed_out" in deps.notifier.names()
    with pytest.raises(Conflict, match="already closed: it timed out"):
        DecideRequest(deps).execute(grant_id=grant.id, actor="U0CAROL", approve=True)


def test_warning_once_before_expiry() -> None:
    deps = make_deps()
    approved(deps, namespace="default")
    deps.clock.advance(timedelta(hours=1, minutes=49))
    assert SweepDue(deps).execute().warned == 0
    deps.clock.advance(timedelta(minutes=2))
    assert SweepDue(deps).execute().warned == 1
    assert SweepDue(deps).execute().warned == 0


def test_extension_goes_through_approval_and_moves_expiry() -> None:
    deps = make_deps()
    grant = approved(deps, namespace="default")
    ext = RequestExtension(deps).execute(
        grant_id=grant.id, actor="U0ALICE", duration=timedelta(hours=1)
    )
    assert ext.status is ExtensionStatus.PENDING
    with pytest.raises(Rejected, match="cannot approve or deny your own extension|not an approver"):
        DecideExtension(deps).execute(extension_id=ext.id, actor="U0ALICE", approve=True)
    DecideExtension(deps).execute(extension_id=ext.id, actor="U0CAROL", approve=True)
    assert deps.store.grant(grant.id).expires_at == grant.expires_at + timedelta(hours=1)
    assert deps.timers.armed[grant.id] == grant.expires_at + timedelta(hours=1)
    with pytest.raises(Conflict, match="already approved"):
        DecideExtension(deps).execute(extension_id=ext.id, actor="U0ERIN", approve=True)


def test_extension_cannot_pass_max_duration_from_now() -> None:
    deps = make_deps()
    grant = approved(deps, namespace="default")
    with pytest.raises(Rejected, match="at most 2h"):
        RequestExtension(deps).execute(
            grant_id=grant.id, actor="U0ALICE", duration=timedelta(hours=3)
        )


def test_self_approval_profile_extends_at_once() -> None:
    deps = make_deps()
    own = request(deps, profile="self-view", duration="1h")
    DecideRequest(deps).execute(grant_id=own.id, actor="U0ALICE", approve=True)
    extended = RequestExtension(deps).execute(
        grant_id=own.id, actor="U0ALICE", duration=timedelta(minutes=30)
    )
    assert extended.status is GrantStatus.ACTIVE
    assert extended.expires_at == deps.clock.now() + timedelta(hours=1, minutes=30)


def test_role_principal_is_mapped_without_its_path() -> None:
    deps = make_deps()
    approved(deps, user="U0DAVE", namespace="default")
    assert list(deps.clusters.get("dev").mappings) == ["arn:aws:iam::111122223333:role/dave-admin"]


def test_foreign_mapping_username_is_bound() -> None:
    deps = make_deps()
    cluster = deps.clusters.get("dev")
    cluster.foreign["arn:aws:iam::111122223333:user/alice"] = "alice-admin"
    grant = approved(deps, namespace="default")
    assert grant.k8s_username == "alice-admin"
    assert cluster.bindings[("default", grant.id)].subject_user == "alice-admin"
    assert cluster.mappings == {}


def test_requester_hears_once_when_the_cluster_delays_an_approved_grant() -> None:
    deps = make_deps()
    deps.clusters.get("dev").fail_next.extend(transient() for _ in range(2))
    grant = approved(deps, namespace="default")
    deps.clock.advance(timedelta(seconds=3))
    SweepDue(deps).execute()
    assert deps.notifier.names().count("grant_delayed") == 1
    deps.clock.advance(timedelta(seconds=5))
    SweepDue(deps).execute()
    assert deps.store.grant(grant.id).status is GrantStatus.ACTIVE
    assert deps.notifier.names().count("grant_delayed") == 1


def test_approvers_see_what_waits_for_their_decision() -> None:
    from bot.adapters.slack.commands import answer

    deps = make_deps()
    mine = request(deps, namespace="default")
    own = request(deps, user="U0CAROL", namespace="payments")
    listed = answer(deps, user="U0CAROL", text="list")
    assert "Waiting for your decision" in listed and f"`{mine.id}`" in listed
    assert listed.count(f"`{own.id}`") == 1  # listed as hers, not as hers to decide
    assert "Waiting for your decision" in answer(deps, user="U0ERIN", text="list")  # via group
    assert "Waiting for your decision" not in answer(deps, user="U0DAVE", text="list")


def test_a_cluster_that_fails_is_not_called_again_in_the_same_sweep() -> None:
    deps = make_deps()
    ids = [approved(deps, user=u, namespace="default").id for u in ("U0ALICE", "U0DAVE")]
    ids.append(approved(deps, user="U0ALICE", namespace="payments").id)
    cluster = deps.clusters.get("dev")
    cluster.fail_next.append(transient("connect timeout"))
    deps.clock.advance(timedelta(hours=3))
    cluster.calls.clear()
    SweepDue(deps).execute()
    assert cluster.calls == ["delete_rbac"], "one timeout per pass, not one per grant"
    assert {deps.store.grant(i).status for i in ids} == {GrantStatus.REVOKING}
    deps.clock.advance(timedelta(seconds=40))
    SweepDue(deps).execute()
    assert {deps.store.grant(i).status for i in ids} == {GrantStatus.ENDED}
    assert cluster.bindings == {} and cluster.mappings == {}


def test_reconcile_restores_a_principals_mapping_once_for_all_its_grants() -> None:
    from bot.services.reconcile import ReconcileCluster

    deps = make_deps()
    for ns in ("default", "payments"):
        approved(deps, namespace=ns)
    approved(deps, user="U0DAVE", namespace="default")
    cluster = deps.clusters.get("dev")
    cluster.mappings.pop("arn:aws:iam::111122223333:user/alice")
    cluster.mappings["arn:aws:iam::111122223333:user/ghost"] = "eks-access:111122223333:user/ghost"
    cluster.calls.clear()
    report = ReconcileCluster(deps).execute(cluster="dev")
    assert cluster.calls.count("ensure_mapping") == 1
    assert report.removed_mappings == ["arn:aws:iam::111122223333:user/ghost"]
    assert cluster.calls.count("owned_state") == 1


def test_reconcile_reads_the_grants_a_page_at_a_time_and_misses_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Pages of 3 among 4 grants: every grant's binding is kept and a missing one put back,
    exactly as with one read."""
    from bot.services import reconcile

    monkeypatch.setattr(reconcile, "PAGE", 3)
    deps = make_deps()
    grants = [
        approved(deps, **({"user": user} if user else {}), namespace=ns)
        for user in ("", "U0DAVE")
        for ns in ("default", "payments")
    ]
    cluster = deps.clusters.get("dev")
    last = max(grants, key=lambda g: g.id)  # on the second page
    cluster.bindings.pop((last.namespace, last.id))
    report = reconcile.ReconcileCluster(deps).execute(cluster="dev")
    assert report.reapplied == [last.id]
    assert report.removed_bindings == [] and report.removed_mappings == []
    assert set(cluster.bindings) == {(g.namespace, g.id) for g in grants}
