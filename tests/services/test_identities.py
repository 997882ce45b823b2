"""Who a grant reaches: IAM users, roles, and one person among many on a shared SSO role."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest

from bot.domain.commands import GrantCommand
from bot.domain.errors import Rejected
from bot.domain.grants import GrantStatus
from bot.policy_file import parse_policy
from bot.services.decide import DecideRequest
from bot.services.deps import Deps
from bot.services.request_access import RequestAccess
from tests.services.fakes import POLICY, FakeCluster, FakeDirectory, FakeStore, make_deps

SSO_ROLE = "arn:aws:iam::111122223333:role/AWSReservedSSO_EKSUsers_0123456789abcdef"


def sso_deps(emails: dict[str, str]) -> Deps:
    doc: dict[str, Any] = copy.deepcopy(POLICY)
    doc["clusters"][1]["sso_role"] = SSO_ROLE
    return make_deps(
        policy=parse_policy(doc),
        directory=FakeDirectory({"S0ONCALL": {"U0ERIN"}}, emails=emails),
    )


def fake_cluster(deps: Deps, name: str) -> FakeCluster:
    cluster = deps.clusters.get(name)
    assert isinstance(cluster, FakeCluster)
    return cluster


def grant_on_prod(deps: Deps, user: str):
    grant = RequestAccess(deps).execute(
        requester=user,
        command=GrantCommand("pods-read", timedelta(hours=1), namespace="default", cluster="prod"),
    )
    return DecideRequest(deps).execute(grant_id=grant.id, actor="U0CAROL", approve=True)


def test_a_requester_without_an_identity_signs_in_through_the_cluster_s_sso_role() -> None:
    deps = sso_deps({"U0FRANK": "frank@example.com", "U0GRACE": "grace@example.com"})
    frank, grace = grant_on_prod(deps, "U0FRANK"), grant_on_prod(deps, "U0GRACE")
    assert frank.status is grace.status is GrantStatus.ACTIVE
    assert (frank.principal_arn, frank.session_name) == (SSO_ROLE, "frank@example.com")
    prefix = "eks-access:111122223333:role/AWSReservedSSO_EKSUsers_0123456789abcdef"
    assert frank.k8s_username == f"{prefix}:frank-example.com"
    assert grace.k8s_username == f"{prefix}:grace-example.com"
    cluster = fake_cluster(deps, "prod")
    bound = {b.grant_id: b.subject_user for b in cluster.bindings.values()}
    assert bound == {frank.id: frank.k8s_username, grace.id: grace.k8s_username}
    # One entry for the role, rendered per session by the authenticator.
    assert cluster.mappings == {SSO_ROLE: prefix + ":{{SessionName}}"}


def test_an_identity_in_the_policy_wins_over_the_sso_role() -> None:
    deps = sso_deps({"U0ALICE": "alice@example.com"})
    grant = grant_on_prod(deps, "U0ALICE")
    assert (grant.principal_arn, grant.session_name) == (
        "arn:aws:iam::111122223333:user/alice",
        None,
    )


@pytest.mark.parametrize(
    ("emails", "message"),
    [
        ({}, "your Slack profile shows no email"),
        ({"U0FRANK": "f" * 60 + "@example.com"}, "cannot be an AWS session name"),
    ],
)
def test_without_a_usable_email_the_request_is_refused(emails, message) -> None:
    deps = sso_deps(emails)
    with pytest.raises(Rejected, match=message):
        grant_on_prod(deps, "U0FRANK")
    assert isinstance(deps.store, FakeStore) and deps.store.grants == {}


def test_on_a_cluster_without_sso_role_no_identity_is_still_refused() -> None:
    deps = sso_deps({"U0FRANK": "frank@example.com"})
    with pytest.raises(Rejected, match="You have no IAM identity"):
        RequestAccess(deps).execute(
            requester="U0FRANK",
            command=GrantCommand("pods-read", timedelta(hours=1), namespace="default"),
        )


def test_a_foreign_templated_mapping_is_bound_as_rendered_for_the_person() -> None:
    deps = sso_deps({"U0FRANK": "frank@example.com"})
    fake_cluster(deps, "prod").foreign[SSO_ROLE] = "sso:{{SessionName}}"
    grant = grant_on_prod(deps, "U0FRANK")
    assert grant.k8s_username == "sso:frank-example.com"
    assert fake_cluster(deps, "prod").mappings == {}  # nothing of the bot's was added
