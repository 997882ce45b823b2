"""Connecting to an EKS cluster named in the policy, through moto's server."""

from __future__ import annotations

import pytest

from bot.adapters.clusters import check_authentication_mode, connect
from bot.domain.clock import SystemClock
from bot.domain.errors import PermanentError
from bot.domain.policy import ClusterConfig

CLUSTER = ClusterConfig(name="prod", eks_name="prod", eks_region="eu-west-1")


def test_api_only_clusters_are_refused_with_a_reason() -> None:
    with pytest.raises(PermanentError, match="uses access entries only"):
        check_authentication_mode(CLUSTER, "API")
    check_authentication_mode(CLUSTER, "CONFIG_MAP")
    check_authentication_mode(CLUSTER, "API_AND_CONFIG_MAP")
    check_authentication_mode(CLUSTER, None)  # moto and older APIs do not say


def test_unknown_eks_cluster_is_a_permanent_error(moto_server, fresh_moto, monkeypatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.url)
    with pytest.raises(PermanentError, match="not found"):
        connect(
            ClusterConfig(name="ghost", eks_name="ghost", eks_region="eu-west-1"), SystemClock()
        )
