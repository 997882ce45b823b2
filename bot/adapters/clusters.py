"""The clusters named in the policy, connected lazily (kubeconfig or EKS via boto3)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from bot.domain.errors import PermanentError
from bot.domain.policy import ClusterConfig, Policy
from bot.domain.ports import Clock, ClusterGateway

log = logging.getLogger(__name__)


def check_authentication_mode(cluster: ClusterConfig, mode: str | None) -> None:
    """aws-auth is read in CONFIG_MAP and API_AND_CONFIG_MAP modes only; in API mode a mapping
    would be written and silently ignored, so the bot refuses to pretend it granted access."""
    if mode == "API":
        raise PermanentError(
            f"EKS cluster `{cluster.eks_name}` uses access entries only (authenticationMode "
            "API), so it ignores aws-auth; eks-access needs CONFIG_MAP or API_AND_CONFIG_MAP."
        )
    if mode == "API_AND_CONFIG_MAP":
        log.info(
            "EKS cluster %s also reads access entries: an access entry for a principal takes "
            "precedence over its aws-auth mapping",
            cluster.eks_name,
        )


def connect(cluster: ClusterConfig, clock: Clock) -> ClusterGateway:
    # Imported here so a kubeconfig-only deployment never loads boto3 for the cluster path.
    from bot.adapters.kubernetes.gateway import KubernetesClusterGateway

    if cluster.is_eks:
        import boto3

        from bot.adapters.aws.eks_cluster import authentication_mode, eks_api_client

        assert cluster.eks_name and cluster.eks_region
        session = boto3.Session()
        check_authentication_mode(
            cluster,
            authentication_mode(
                session.client("eks", region_name=cluster.eks_region), cluster.eks_name
            ),
        )
        api = eks_api_client(
            cluster_name=cluster.eks_name,
            region=cluster.eks_region,
            session=session,
            clock=clock.now,
        )
    else:
        from bot.adapters.kubernetes.connection import api_client_from_kubeconfig

        assert cluster.kubeconfig
        try:
            api = api_client_from_kubeconfig(cluster.kubeconfig, cluster.context)
        except Exception as e:
            raise PermanentError(
                f"Cannot load the kubeconfig of cluster `{cluster.name}` ({cluster.kubeconfig}): {e}"
            ) from e
    return KubernetesClusterGateway(api)


class ClusterRegistry:
    """Implements the Clusters port. A failed connection is not cached: the next call retries."""

    def __init__(
        self,
        policy: Policy,
        clock: Clock,
        connector: Callable[[ClusterConfig, Clock], ClusterGateway] = connect,
    ) -> None:
        self.policy = policy
        self.clock = clock
        self.connector = connector
        self._gateways: dict[str, ClusterGateway] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> ClusterGateway:
        with self._lock:
            if name in self._gateways:
                return self._gateways[name]
        cluster = self.policy.cluster(name)
        if cluster is None or cluster.name != name:
            raise PermanentError(f"Cluster `{name}` is not in the policy any more.")
        gateway = self.connector(cluster, self.clock)
        with self._lock:
            return self._gateways.setdefault(name, gateway)
