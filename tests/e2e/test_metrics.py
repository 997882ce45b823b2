"""GET /metrics of the running bot, read with Prometheus's own text parser after a grant's
whole life: what the database knows, what this process did, and whether it leads."""

from __future__ import annotations

import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import alice_can_list_pods
from tests.e2e.test_outages import active_grant
from tests.support.bot import BotProcess
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.kube]


def scrape(bot: BotProcess) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{bot.port}/metrics", timeout=5) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = r.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_after_a_grant_expires(bot: BotProcess, kube_env, aws_auth_reset) -> None:
    grant_id = active_grant(bot, kube_env, duration="10s")
    during = scrape(bot)
    assert during[("eks_access_grants", (("state", "active"),))] == 1
    assert during[("eks_access_requests_total", (("outcome", "approved"),))] == 1
    assert during[("eks_access_leader", ())] == 1
    calls = (
        "eks_access_cluster_call_seconds_count",
        (("cluster", "dev"), ("operation", "ensure_rbac")),
    )
    assert during[calls] >= 1
    wait_until(lambda: not alice_can_list_pods(kube_env), 20, "revoked at expiry")
    wait_until(
        lambda: scrape(bot).get(("eks_access_revoke_lag_seconds_count", ())) == 1,
        10,
        "the revoke lag observed",
    )
    after = scrape(bot)
    assert after[("eks_access_grants", (("state", "ended"),))] == 1
    assert after[("eks_access_grants", (("state", "active"),))] == 0
    assert after[("eks_access_revoke_lag_seconds_bucket", (("le", "30.0"),))] == 1
    wait_until(lambda: scrape(bot)[("eks_access_outbox_depth", ())] == 0, 10, "all sent")
    assert grant_id
