"""WithdrawRequest: the cancel path of a revoke alone, re-authorised, once."""

from __future__ import annotations

import pytest

from bot.domain.errors import Conflict, Rejected
from bot.domain.grants import GrantStatus
from bot.services.decide import DecideRequest
from bot.services.withdraw import WithdrawRequest
from tests.services.fakes import make_deps
from tests.services.test_grant_lifecycle import request


def test_the_requester_withdraws_once_and_the_second_click_hears_so() -> None:
    deps = make_deps()
    grant = request(deps, namespace="default")
    withdrawn = WithdrawRequest(deps).execute(grant_id=grant.id, actor="U0ALICE")
    assert withdrawn.status is GrantStatus.CANCELLED and withdrawn.ended_by == "U0ALICE"
    with pytest.raises(Conflict, match="already withdrawn"):
        WithdrawRequest(deps).execute(grant_id=grant.id, actor="U0ALICE")
    assert deps.store.actions().count("request.cancelled") == 1


def test_a_request_approved_meanwhile_is_not_revoked() -> None:
    deps = make_deps()
    grant = request(deps, namespace="default")
    DecideRequest(deps).execute(grant_id=grant.id, actor="U0CAROL", approve=True)
    with pytest.raises(Conflict, match="already approved by"):
        WithdrawRequest(deps).execute(grant_id=grant.id, actor="U0ALICE")
    assert deps.store.grant(grant.id).status is GrantStatus.ACTIVE


def test_someone_else_may_not_withdraw() -> None:
    deps = make_deps()
    grant = request(deps, namespace="default")
    with pytest.raises(Rejected, match="Only the requester or an approver"):
        WithdrawRequest(deps).execute(grant_id=grant.id, actor="U0DAVE")
    assert deps.store.grant(grant.id).status is GrantStatus.PENDING
    assert deps.store.actions()[-1] == "revoke.refused"
