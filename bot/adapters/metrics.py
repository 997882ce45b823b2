"""Prometheus metrics, served at GET /metrics (prometheus_client's text format).

What the database knows (grants by state, requests by outcome, messages owed) is read from it
at each scrape, so every replica reports the same totals; what happens in this process (revoke
lag, cluster calls, failed Slack deliveries, whether it leads) is counted here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.adapters.storage.repository import SqlGrantStore
from bot.domain.errors import PermanentError, TransientError
from bot.domain.grants import EndReason, Extension, Grant, GrantStatus, MappedIdentity
from bot.domain.ports import ClusterGateway, OwnedClusterState
from bot.domain.principals import Identity, Principal
from bot.domain.rbac import RbacGrant

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: Revoke lag buckets, seconds: the target is 0.5 s at p99.
LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
#: The audit actions that close a request, by outcome.
OUTCOMES = {
    "request.approved": "approved",
    "request.denied": "denied",
    "request.timed_out": "timed_out",
    "request.cancelled": "cancelled",
}


class Metrics:
    def __init__(self, store: SqlGrantStore, is_leader: Callable[[], bool]) -> None:
        self.registry = CollectorRegistry()
        self.revoke_lag = Histogram(
            "eks_access_revoke_lag_seconds",
            "From a grant's expiry to its end (RoleBinding and mapping gone), in this process.",
            buckets=LAG_BUCKETS,
            registry=self.registry,
        )
        self.cluster_calls = Histogram(
            "eks_access_cluster_call_seconds",
            "Calls to a cluster (Kubernetes or EKS API) by cluster and operation.",
            ["cluster", "operation"],
            registry=self.registry,
        )
        self.cluster_errors = Counter(
            "eks_access_cluster_call_errors",
            "Failed cluster calls by cluster, operation and kind (transient, permanent).",
            ["cluster", "operation", "kind"],
            registry=self.registry,
        )
        self.deliveries_failed = Counter(
            "eks_access_slack_deliveries_failed",
            "Slack messages that failed a try (retried) or were given up, by message kind.",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.registry.register(_FromDatabase(store, is_leader))

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def applied(self, record: Grant | Extension) -> None:
        """Called by the store after each transition it applied."""
        if (
            isinstance(record, Grant)
            and record.status is GrantStatus.ENDED
            and record.end_reason is EndReason.EXPIRED
            and record.ended_at is not None
            and record.expires_at is not None
        ):
            lag = (record.ended_at - record.expires_at).total_seconds()
            self.revoke_lag.observe(max(lag, 0.0))

    def delivery_failed(self, kind: str, given_up: bool) -> None:
        self.deliveries_failed.labels(kind, "given_up" if given_up else "retried").inc()

    def gateway(self, cluster: str, inner: ClusterGateway) -> MeteredGateway:
        return MeteredGateway(self, cluster, inner)

    @contextmanager
    def cluster_call(self, cluster: str, operation: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        except TransientError:
            self.cluster_errors.labels(cluster, operation, "transient").inc()
            raise
        except PermanentError:
            self.cluster_errors.labels(cluster, operation, "permanent").inc()
            raise
        finally:
            self.cluster_calls.labels(cluster, operation).observe(time.perf_counter() - started)


class MeteredGateway:
    """A cluster gateway whose every call is timed and its failures counted."""

    def __init__(self, metrics: Metrics, cluster: str, inner: ClusterGateway) -> None:
        self._call = lambda op: metrics.cluster_call(cluster, op)
        self.inner = inner

    def ensure_mapping(self, identity: Identity) -> MappedIdentity:
        with self._call("ensure_mapping"):
            return self.inner.ensure_mapping(identity)

    def remove_mapping(self, principal: Principal) -> None:
        with self._call("remove_mapping"):
            self.inner.remove_mapping(principal)

    def prepare_mapping(self, identity: Identity) -> None:
        self.inner.prepare_mapping(identity)  # a read started, not a call to time

    def ensure_rbac(self, rbac: RbacGrant) -> None:
        with self._call("ensure_rbac"):
            self.inner.ensure_rbac(rbac)

    def delete_rbac(self, grant_id: str, namespace: str) -> None:
        with self._call("delete_rbac"):
            self.inner.delete_rbac(grant_id, namespace)

    def owned_state(self, namespaces: set[str]) -> OwnedClusterState:
        with self._call("owned_state"):
            return self.inner.owned_state(namespaces)


class _FromDatabase(Collector):
    def __init__(self, store: SqlGrantStore, is_leader: Callable[[], bool]) -> None:
        self.store = store
        self.is_leader = is_leader

    def collect(self) -> Iterable[Metric]:
        grants = GaugeMetricFamily(
            "eks_access_grants", "Requests and grants by state.", labels=["state"]
        )
        counts = self.store.count_by_status()
        for status in GrantStatus:
            grants.add_metric([status.value], counts.get(status, 0))
        yield grants
        requests = CounterMetricFamily(
            "eks_access_requests", "Requests by how they were decided.", labels=["outcome"]
        )
        actions = self.store.count_actions(tuple(OUTCOMES))
        for action, outcome in OUTCOMES.items():
            requests.add_metric([outcome], actions.get(action, 0))
        yield requests
        yield GaugeMetricFamily(
            "eks_access_outbox_depth",
            "Slack messages owed and not yet delivered.",
            value=self.store.owed_count(),
        )
        yield GaugeMetricFamily(
            "eks_access_leader",
            "1 if this process runs the scheduler (sweep, timers, reconcile, outbox).",
            value=1 if self.is_leader() else 0,
        )
