"""The clusters named in the policy, connected lazily (kubeconfig or EKS via boto3)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from bot.domain.errors import PermanentError
from bot.domain.policy import ClusterConfig, Policy
from bot.domain.ports import Clock, ClusterGateway


def connect(cluster: ClusterConfig, clock: Clock) -> ClusterGateway:
    # Imported here so a kubeconfig-only deployment never loads boto3 for the cluster path.
    from bot.adapters.kubernetes.gateway import KubernetesClusterGateway

    if cluster.is_eks:
        import boto3

        from bot.adapters.aws.eks_cluster import eks_api_client

        assert cluster.eks_name and cluster.eks_region
        api = eks_api_client(
            cluster_name=cluster.eks_name,
            region=cluster.eks_region,
            session=boto3.Session(),
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
