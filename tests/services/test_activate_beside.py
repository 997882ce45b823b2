"""An activation that makes the grant's RoleBinding while its identity is mapped (the bot's
setting: `Deps.beside`). The binding names the username the bot's own mapping gives; the
result, and what a failure leaves, is as when the two steps go one after the other."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from bot.domain.errors import PermanentError, TransientError
from bot.domain.grants import EndReason, GrantStatus, MappedIdentity, MappedVia
from bot.domain.principals import Identity
from bot.domain.rbac import RbacGrant
from tests.services.fakes import FakeDeps, make_deps
from tests.services.test_grant_lifecycle import approved

ALICE = "arn:aws:iam::111122223333:user/alice"
OWNED = "eks-access:111122223333:user/alice"


@pytest.fixture
def deps() -> Iterator[FakeDeps]:
    with ThreadPoolExecutor(4) as beside:
        yield make_deps(beside=beside)


def both_under_way(deps: FakeDeps) -> threading.Event:
    """Hold the mapping until the binding has been asked for: they run at the same time."""
    cluster = deps.clusters.get("dev")
    bound = threading.Event()
    ensure_mapping, ensure_rbac = cluster.ensure_mapping, cluster.ensure_rbac

    def mapping(identity: Identity) -> MappedIdentity:
        assert bound.wait(10), "the binding was not made beside the mapping"
        return ensure_mapping(identity)

    def rbac(rbac: RbacGrant) -> None:
        ensure_rbac(rbac)
        bound.set()

    cluster.ensure_mapping = mapping  # type: ignore[method-assign]
    cluster.ensure_rbac = rbac  # type: ignore[method-assign]
    return bound


def test_the_binding_is_made_while_the_identity_is_mapped(deps: FakeDeps) -> None:
    both_under_way(deps)
    grant = approved(deps, namespace="default")
    cluster = deps.clusters.get("dev")
    assert grant.status is GrantStatus.ACTIVE and grant.k8s_username == OWNED
    assert cluster.mappings == {ALICE: OWNED}
    assert [b.subject_user for b in cluster.bindings.values()] == [OWNED]
    assert sorted(cluster.calls) == ["ensure_mapping", "ensure_rbac"]


def test_a_principal_someone_else_maps_is_bound_again_to_their_username(
    deps: FakeDeps,
) -> None:
    cluster = deps.clusters.get("dev")
    cluster.foreign[ALICE] = "alice-admin"
    grant = approved(deps, namespace="default")
    assert grant.status is GrantStatus.ACTIVE and grant.mapped_via is MappedVia.EXISTING
    assert grant.k8s_username == "alice-admin"
    assert [b.subject_user for b in cluster.bindings.values()] == ["alice-admin"]
    assert cluster.calls.count("ensure_rbac") == 2
    assert cluster.mappings == {}  # theirs decides; the bot adds no entry


def refusing(deps: FakeDeps, step: str, error: Exception) -> None:
    cluster = deps.clusters.get("dev")
    original = getattr(cluster, step)

    def refuse(*args: Any) -> Any:
        original(*args)  # what the step did stays done: the refusal comes after it
        raise error

    setattr(cluster, step, refuse)


def test_a_refused_mapping_leaves_no_binding_behind(deps: FakeDeps) -> None:
    refusing(deps, "ensure_mapping", PermanentError("aws-auth cannot be read"))
    grant = approved(deps, namespace="default")
    cluster = deps.clusters.get("dev")
    assert grant.status is GrantStatus.ENDED and grant.end_reason is EndReason.FAILED
    assert "aws-auth cannot be read" in grant.end_detail
    assert cluster.mappings == {} and cluster.bindings == {}


def test_a_refused_binding_leaves_no_mapping_behind(deps: FakeDeps) -> None:
    refusing(deps, "ensure_rbac", PermanentError("forbidden: cannot bind role"))
    grant = approved(deps, namespace="default")
    cluster = deps.clusters.get("dev")
    assert grant.status is GrantStatus.ENDED and "cannot bind role" in grant.end_detail
    assert cluster.mappings == {} and cluster.bindings == {}


def test_a_binding_that_fails_for_now_is_retried_with_the_mapping(deps: FakeDeps) -> None:
    refusing(deps, "ensure_rbac", TransientError("apiserver unreachable"))
    grant = approved(deps, namespace="default")
    assert grant.status is GrantStatus.ACTIVATING and grant.attempts == 1
    assert "apiserver unreachable" in (grant.last_error or "")
