"""The clusters named in the policy, connected lazily (kubeconfig and/or EKS via boto3)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.domain.errors import PermanentError
from bot.domain.policy import ClusterConfig, Policy
from bot.domain.ports import Clock, ClusterGateway

if TYPE_CHECKING:
    from bot.adapters.aws.sessions import AwsSessions
    from bot.adapters.kubernetes.connection import ApiClient
    from bot.adapters.kubernetes.gateway import IdentityMapper

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClusterFacts:
    """What connecting learnt: shown by `check-config --check-aws` and logged at start."""

    authentication_mode: str | None
    mapping: str


def cluster_facts(cluster: ClusterConfig) -> ClusterFacts:
    """The authentication mode and the mapping the bot will use, asking EKS only."""
    if not cluster.is_eks:
        return ClusterFacts(None, cluster.mapping_for(None))
    from bot.adapters.aws.eks_cluster import describe_cluster, mode_of
    from bot.adapters.aws.sessions import cluster_session

    assert cluster.eks_name and cluster.eks_region
    eks = cluster_session(cluster).client("eks", region_name=cluster.eks_region)
    mode = mode_of(describe_cluster(eks, cluster.eks_name))
    return ClusterFacts(mode, cluster.mapping_for(mode))


def connect(
    cluster: ClusterConfig, clock: Clock, sessions: AwsSessions | None = None
) -> ClusterGateway:
    return connect_with_facts(cluster, clock, sessions)[0]


def connect_with_facts(
    cluster: ClusterConfig, clock: Clock, sessions: AwsSessions | None = None
) -> tuple[ClusterGateway, ClusterFacts]:
    """The cluster's gateway: Kubernetes through its kubeconfig (or the EKS endpoint and a
    token), identities mapped where the cluster reads them (aws-auth or access entries)."""
    # Imported here so a kubeconfig-only deployment never loads boto3 for the cluster path.
    from bot.adapters.kubernetes.gateway import KubernetesClusterGateway

    parts = open_connection(cluster, clock, sessions)
    facts = ClusterFacts(parts.mode, parts.mapping)
    log.info(
        "cluster %s: authentication mode %s, mapping identities through %s",
        cluster.name,
        facts.authentication_mode or "unknown",
        facts.mapping,
    )
    gateway = KubernetesClusterGateway(
        parts.api, mapper=parts.mapper, refuse_new_mappings=parts.refused
    )
    return gateway, facts


@dataclass
class Connection:
    """What a gateway is built from; `check-config --check-clusters` asks through it too."""

    api: ApiClient
    mode: str | None = None
    mapping: str = "aws-auth"
    mapper: IdentityMapper | None = None  # None: aws-auth through `api`
    refused: PermanentError | None = None


def open_connection(
    cluster: ClusterConfig, clock: Clock, sessions: AwsSessions | None = None
) -> Connection:
    """The API client and identity mapper of `cluster`, as the bot reaches them."""
    if cluster.is_eks:
        return _connect_eks(cluster, clock, sessions)
    assert cluster.kubeconfig
    return Connection(_kubeconfig_client(cluster, cluster.kubeconfig))


def _connect_eks(cluster: ClusterConfig, clock: Clock, sessions: AwsSessions | None) -> Connection:
    """One DescribeCluster decides the mapping and, without a kubeconfig, the API client."""
    from bot.adapters.aws.access_entries import AccessEntryMapper
    from bot.adapters.aws.eks_cluster import api_client_for, describe_cluster, mode_of
    from bot.adapters.aws.sessions import cluster_session

    assert cluster.eks_name and cluster.eks_region
    session = cluster_session(cluster, sessions)
    eks = session.client("eks", region_name=cluster.eks_region)
    described = describe_cluster(eks, cluster.eks_name)
    if cluster.kubeconfig is None:
        api = api_client_for(described, session=session, region=cluster.eks_region, clock=clock.now)
    else:
        api = _kubeconfig_client(cluster, cluster.kubeconfig)
    parts = Connection(api, mode=mode_of(described))
    try:
        parts.mapping = cluster.mapping_for(parts.mode)
    except PermanentError as refusal:
        # New grants are refused with the reason; what earlier grants left can still go.
        parts.mapping = "access-entries" if cluster.mapping == "access-entries" else "aws-auth"
        parts.refused = refusal
    if parts.mapping == "access-entries":
        parts.mapper = AccessEntryMapper(eks, cluster.eks_name)
    return parts


def _kubeconfig_client(cluster: ClusterConfig, path: str) -> ApiClient:
    from bot.adapters.kubernetes.connection import api_client_from_kubeconfig

    try:
        return api_client_from_kubeconfig(path, cluster.context)
    except Exception as e:
        raise PermanentError(
            f"Cannot load the kubeconfig of cluster `{cluster.name}` ({path}): {e}"
        ) from e


def shared_sessions_connector() -> Callable[[ClusterConfig, Clock], ClusterGateway]:
    """`connect`, with one set of AWS credentials per role across clusters and reconnects.

    boto3 is loaded at the first `eks:` cluster only: a kubeconfig-only bot never needs it.
    """
    shared: list[AwsSessions] = []
    lock = threading.Lock()

    def connect_sharing(cluster: ClusterConfig, clock: Clock) -> ClusterGateway:
        if not cluster.is_eks:
            return connect(cluster, clock)
        from bot.adapters.aws.sessions import AwsSessions

        with lock:
            if not shared:
                shared.append(AwsSessions())
        return connect(cluster, clock, shared[0])

    return connect_sharing


class ClusterRegistry:
    """Implements the Clusters port. A failed connection is not cached: the next call retries."""

    def __init__(
        self,
        policy: Policy,
        clock: Clock,
        connector: Callable[[ClusterConfig, Clock], ClusterGateway] | None = None,
    ) -> None:
        self.policy = policy
        self.clock = clock
        self.connector = connector or shared_sessions_connector()
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
