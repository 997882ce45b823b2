"""The four measurements. Each is bounded in count and in time, and returns plain data."""

from __future__ import annotations

import concurrent.futures as cf
import json
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kubernetes import client, watch
from sqlalchemy import func, insert, select

from bench.cluster import (
    append_to_map_users,
    can_list_pods,
    foreign_entries,
    read_aws_auth,
    vm_kib,
    wait_allowed,
)
from bench.slack import SignedSlack, request_id, responses, wait_responses
from bot.adapters.kubernetes.connection import api_client_from_kubeconfig
from bot.adapters.slack.ids import Action
from bot.adapters.storage import migrate
from bot.adapters.storage.engine import make_engine
from bot.adapters.storage.tables import audit_events, grants
from bot.domain import aws_auth
from bot.domain import aws_auth_text as text_edits
from bot.domain.ids import new_id
from bot.domain.manifests import role_binding_manifest, role_manifest
from bot.domain.rbac import (
    GRANT_ID_LABEL,
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    PROFILE_LABEL,
    PolicyRule,
    RbacGrant,
    role_name,
)
from tests.support.bot import ROOT, SIGNING_SECRET, BotProcess
from tests.support.kube import TEST_OBJECT_LABEL, KubeEnv
from tests.support.slack_stub import SlackStub

ACCOUNT = "111122223333"
APPROVER = "U0APPROVER"
ACK_USER = "U0ACK"
PROFILE = "pods-read"
RBAC_GROUP = "rbac.authorization.k8s.io"
#: Lines in the bot's log that mean something went wrong (counted and reported).
LOG_MARKERS = (
    "Traceback",
    " ERROR ",
    "scheduled job failed",
    "was missed",
    "maximum number of running instances",
)
POD_RULES = [{"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list"]}]


def latency_user(i: int) -> tuple[str, str]:
    return f"U0L{i:03d}", f"arn:aws:iam::{ACCOUNT}:user/lat-{i:03d}"


def storm_user(i: int) -> tuple[str, str]:
    return f"U0B{i:03d}", f"arn:aws:iam::{ACCOUNT}:user/bench-b{i:03d}"


def username(arn: str) -> str:
    kind, name = arn.rsplit(":", 1)[1].split("/", 1)
    return f"eks-access:{ACCOUNT}:{kind}/{name}"


def policy(kubeconfig: str, *, latency_users: int, storm_users: int) -> dict[str, Any]:
    identities = {ACK_USER: f"arn:aws:iam::{ACCOUNT}:user/ack-user"}
    identities.update(latency_user(i) for i in range(latency_users))
    identities.update(storm_user(i) for i in range(storm_users))
    return {
        "slack": {"approval_channel": "C0APPROVALS", "alert_channel": "C0ALERTS"},
        "clusters": [{"name": "dev", "kubeconfig": kubeconfig, "default": True}],
        "identities": identities,
        "defaults": {"min_duration": "10s", "max_duration": "8h", "pending_timeout": "4h"},
        "profiles": {
            PROFILE: {
                "description": "Read pods and their logs",
                "namespaces": ["default", "payments"],
                "rules": POD_RULES,
                "requesters": ["*"],
                "approvers": [APPROVER],
            }
        },
    }


# -- 1. slash-command ack latency ------------------------------------------------------------


@dataclass
class AckResult:
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"bot": [], "bare": []})
    statuses: dict[str, Counter[str]] = field(
        default_factory=lambda: {"bot": Counter(), "bare": Counter()}
    )
    errors: dict[str, int] = field(default_factory=lambda: {"bot": 0, "bare": 0})
    throughput: dict[str, list[float]] = field(default_factory=lambda: {"bot": [], "bare": []})
    #: The same clients paced (one request per client every `pace` seconds): below saturation.
    paced: dict[str, list[float]] = field(default_factory=lambda: {"bot": [], "bare": []})
    pace: float = 0.0
    undelivered_answers: int = 0


def _loadgen(spec: dict[str, Any], budget: float) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.loadgen", json.dumps(spec)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=budget + 90,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"load generator failed:\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def measure_ack(
    targets: dict[str, str],
    stub: SlackStub,
    *,
    clients: int,
    per_client: int,
    rounds: int,
    text: str,
    pace: float,
    paced_requests: int,
    budget: float,
) -> AckResult:
    """Closed loop: `clients` threads, each sending `per_client` signed slash commands one
    after the other; rounds alternate between the targets so drift hits both alike. Then,
    for context, the same clients paced at one request per `pace` seconds each."""
    result = AckResult(pace=pace)
    response_base = stub.response_url("")
    per_run = budget / (2 * rounds + 4)

    def run(name: str, key: str, count: int, run_pace: float = 0.0) -> dict[str, Any]:
        spec = {
            "url": targets[name],
            "secret": SIGNING_SECRET,
            "clients": clients,
            "requests": count,
            "user": ACK_USER,
            "text": text,
            "response_base": response_base,
            "key": key,
            "budget": per_run,
            "pace": run_pace,
        }
        out = _loadgen(spec, per_run)
        if name == "bot":  # let the bot finish its answers before the other target runs
            expected = sum(int(v) for v in out["statuses"].values())
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                got = sum(1 for k in responses(stub) if k.startswith(key + "-"))
                if got >= expected:
                    break
                time.sleep(0.2)
            else:
                result.undelivered_answers += expected - got
        return out

    for name in ("bare", "bot"):  # warm-up: imports, connection pools, caches
        run(name, f"ack-warm-{name}", 2)
    for r in range(rounds):
        for name in ("bare", "bot") if r % 2 == 0 else ("bot", "bare"):
            out = run(name, f"ack-{r}-{name}", per_client)
            result.latencies[name].extend(out["latencies"])
            result.statuses[name].update(out["statuses"])
            result.errors[name] += out["error_count"]
            if out["wall"] > 0:
                result.throughput[name].append(len(out["latencies"]) / out["wall"])
    if pace > 0 and paced_requests > 0:
        for name in ("bare", "bot"):
            out = run(name, f"ack-paced-{name}", paced_requests, pace)
            result.paced[name].extend(out["latencies"])
            result.errors[name] += out["error_count"]
    return result


# -- 2. approve click -> SubjectAccessReview allowed, against the raw API floor ------------------


class Floor:
    """The least the API needs for one grant, done directly with the kubernetes client as the
    bot's own identity: a read-modify-write of aws-auth with its resourceVersion, the profile
    Role if absent (created empty, then given its rules, as the bot's RBAC requires), and one
    RoleBinding. Objects carry the test-fixture label and no bot label, so the bot's
    reconcile never touches them and `aws_auth_reset` removes them."""

    def __init__(self, api: client.ApiClient, namespace: str = "default") -> None:
        self.core = client.CoreV1Api(api)
        self.rbac = client.RbacAuthorizationV1Api(api)
        self.namespace = namespace
        self.conflicts = 0

    @staticmethod
    def user(i: int) -> str:
        return f"bench-floor:{ACCOUNT}:user/floor-{i:03d}"

    def grant(self, i: int) -> None:
        arn = f"arn:aws:iam::{ACCOUNT}:user/floor-{i:03d}"
        line = f"- {{userarn: {arn}, username: {self.user(i)}, groups: []}}\n"
        for _ in range(20):
            cm = self.core.read_namespaced_config_map("aws-auth", "kube-system")
            data = dict(cm.data or {})
            data["mapUsers"] = data.get("mapUsers", "") + line
            cm.data = data
            try:
                self.core.replace_namespaced_config_map("aws-auth", "kube-system", cm)
                break
            except client.ApiException as exc:
                if exc.status != 409:
                    raise
                self.conflicts += 1
        else:
            raise RuntimeError("floor: aws-auth kept changing")
        role = role_name(PROFILE)
        labels = {MANAGED_BY_LABEL: MANAGED_BY_VALUE, PROFILE_LABEL: PROFILE}
        try:
            created = self.rbac.create_namespaced_role(
                self.namespace,
                {"metadata": {"name": role, "labels": labels}, "rules": []},
            )
            created.rules = [
                client.V1PolicyRule(
                    api_groups=r["apiGroups"], resources=r["resources"], verbs=r["verbs"]
                )
                for r in POD_RULES
            ]
            self.rbac.replace_namespaced_role(role, self.namespace, created)
        except client.ApiException as exc:
            if exc.status != 409:
                raise
        self.rbac.create_namespaced_role_binding(
            self.namespace,
            {
                "metadata": {
                    "name": f"bench-floor-{i:03d}",
                    "labels": {TEST_OBJECT_LABEL: "true"},
                },
                "roleRef": {"apiGroup": RBAC_GROUP, "kind": "Role", "name": role},
                "subjects": [{"kind": "User", "name": self.user(i), "apiGroup": RBAC_GROUP}],
            },
        )


@dataclass
class ApproveResult:
    bot: list[float] = field(default_factory=list)
    floor: list[float] = field(default_factory=list)
    #: Per bot sample, from the bot's own records: click sent -> decision written
    #: (HTTP, Bolt, worker pickup, first read) and decision -> activation started.
    to_decided: list[float] = field(default_factory=list)
    decided_to_activating: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    floor_conflicts: int = 0


def measure_approve(
    slack: SignedSlack,
    stub: SlackStub,
    env: KubeEnv,
    database_url: str,
    *,
    grants_count: int,
    budget: float,
) -> ApproveResult:
    """Bot and floor alternate, one grant at a time; the first of each is a warm-up."""
    result = ApproveResult()
    admin = api_client_from_kubeconfig(env.admin_kubeconfig)
    floor = Floor(env.bot_api_client())
    engine = make_engine(database_url)
    deadline = time.monotonic() + budget
    try:
        for i in range(grants_count + 1):
            if time.monotonic() > deadline:
                result.failures.append(f"time budget spent after {i - 1} grants")
                break
            user, arn = latency_user(i)
            k8s_user = username(arn)
            key = f"lat-cmd-{i}"
            slack.command(user, f"grant {PROFILE} 1h ns=default latency sample {i}", key)
            grant_id = request_id(wait_responses(stub, [key], 20).get(key, []))
            if grant_id is None or can_list_pods(admin, k8s_user):
                result.failures.append(f"sample {i}: no pending request ({grant_id})")
                continue
            time.sleep(0.2)
            sent_wall = time.time()
            t0 = time.perf_counter()
            status = slack.click(APPROVER, str(Action.APPROVE_GRANT), grant_id, f"lat-click-{i}")
            allowed = wait_allowed(admin, k8s_user, timeout=30)
            if status != 200 or allowed is None:
                result.failures.append(f"bot sample {i}: HTTP {status}, allowed={allowed}")
            elif i > 0:
                result.bot.append(allowed - t0)
            wait_responses(stub, [f"lat-click-{i}"], 20)  # the bot is done with this click
            with engine.connect() as conn:
                row = conn.execute(
                    select(grants.c.decided_at, grants.c.activated_at).where(
                        grants.c.id == grant_id
                    )
                ).first()
            if i > 0 and row is not None and row[0] is not None and row[1] is not None:
                result.to_decided.append(row[0].timestamp() - sent_wall)
                result.decided_to_activating.append((row[1] - row[0]).total_seconds())
            time.sleep(0.2)

            t0 = time.perf_counter()
            floor.grant(i)
            allowed = wait_allowed(admin, Floor.user(i), timeout=30)
            if allowed is None:
                result.failures.append(f"floor sample {i}: never allowed")
            elif i > 0:
                result.floor.append(allowed - t0)
            time.sleep(0.2)
    finally:
        admin.close()
        engine.dispose()
    result.floor_conflicts = floor.conflicts
    return result


# -- 4. 200 simultaneous approvals into one aws-auth -------------------------------------------


@dataclass
class StormResult:
    requested: int = 0
    click_statuses: Counter[int] = field(default_factory=Counter)
    #: HTTP response time of each approve click: Slack's 3 s ack deadline applies to it.
    click_acks: list[float] = field(default_factory=list)
    all_allowed_s: float | None = None
    allowed: int = 0
    allowed_times: list[float] = field(default_factory=list)
    #: From the bot's records: clicks fired -> each decision written.
    decided_times: list[float] = field(default_factory=list)
    applied: int = 0
    foreign_before: int = 0
    foreign_written: int = 0
    foreign_conflicts: int = 0
    foreign_lost: int = 0
    foreign_unexpected: int = 0
    statuses_in_db: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


class BindingWatch:
    """When each RoleBinding of the bot appears or disappears in a namespace (event receipt
    time), from a watch: far lighter on the apiserver than polling every grant."""

    def __init__(
        self,
        kubeconfig: str,
        namespace: str,
        seconds: float,
        *,
        label_selector: str | None = f"{MANAGED_BY_LABEL}={MANAGED_BY_VALUE}",
        added_clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        """`label_selector`: None watches every binding (a floor's too); `added_clock`
        stamps each ADDED event (deletions are stamped with time.time())."""
        self.api = api_client_from_kubeconfig(kubeconfig)
        self.rbac = client.RbacAuthorizationV1Api(self.api)
        self.namespace = namespace
        self.seconds = int(seconds)
        self.label_selector = label_selector
        self.added_clock = added_clock
        self.added: dict[str, float] = {}  # subject user -> added_clock()
        self.deleted: dict[str, float] = {}  # grant id -> time.time()
        self.error: str | None = None
        self._stop = threading.Event()
        listing = self.rbac.list_namespaced_role_binding(namespace, limit=1)
        self._version = listing.metadata.resource_version
        self._thread = threading.Thread(target=self._run, name="binding-watch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        w = watch.Watch()
        try:
            for event in w.stream(
                self.rbac.list_namespaced_role_binding,
                self.namespace,
                label_selector=self.label_selector,
                resource_version=self._version,
                timeout_seconds=self.seconds,
                _request_timeout=self.seconds + 30,
            ):
                binding = event["object"]
                if event["type"] == "ADDED":
                    for subject in binding.subjects or []:
                        self.added.setdefault(subject.name, self.added_clock())
                elif event["type"] == "DELETED":
                    gid = (binding.metadata.labels or {}).get(GRANT_ID_LABEL)
                    if gid:
                        self.deleted.setdefault(gid, time.time())
                if self._stop.is_set():
                    break
        except Exception as e:  # reported, not fatal
            if not self._stop.is_set():  # closing the client at the end ends the stream too
                self.error = f"watch ended early: {type(e).__name__}: {e}"
        finally:
            w.stop()

    def seen(self, user: str, timeout: float = 2.0) -> float | None:
        """When a binding for `user` was added, waiting up to `timeout` s for the event."""
        deadline = time.monotonic() + timeout
        while user not in self.added and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.added.get(user)

    def close(self) -> None:
        self._stop.set()
        self.api.close()
        self._thread.join(timeout=5)


def measure_storm(
    slack: SignedSlack,
    stub: SlackStub,
    env: KubeEnv,
    database_url: str,
    *,
    count: int,
    foreign_writes: int,
    budget: float,
) -> StormResult:
    """`count` pending requests, then all approve clicks at once (one thread each, released
    by a barrier) while a foreign writer edits aws-auth; each requester's SAR is checked as
    soon as their RoleBinding appears (and everyone's every 5 s as a fallback)."""
    result = StormResult()
    admin = api_client_from_kubeconfig(env.admin_kubeconfig)
    deadline = time.monotonic() + budget
    users = [storm_user(i) for i in range(count)]
    try:
        keys = [f"storm-cmd-{i}" for i in range(count)]
        with cf.ThreadPoolExecutor(16) as pool:
            list(
                pool.map(
                    lambda i: slack.command(
                        users[i][0], f"grant {PROFILE} 1h ns=default storm {i}", keys[i]
                    ),
                    range(count),
                )
            )
        answers = wait_responses(stub, keys, 120)
        ids = [request_id(answers.get(k, [])) for k in keys]
        result.requested = sum(1 for g in ids if g)
        if result.requested != count:
            result.failures.append(f"only {result.requested}/{count} requests were accepted")

        before = dict(read_aws_auth(admin).data or {})
        foreign_before = foreign_entries(before)
        result.foreign_before = len(foreign_before)
        added: list[str] = []
        bindings = BindingWatch(env.admin_kubeconfig, "default", budget + 30)

        barrier = threading.Barrier(count + 2)
        statuses: list[int] = [0] * count
        acks: list[float] = []

        def click(i: int) -> None:
            barrier.wait(timeout=60)
            grant_id = ids[i]
            if grant_id is not None:
                t = time.perf_counter()
                statuses[i] = slack.click(
                    APPROVER, str(Action.APPROVE_GRANT), grant_id, f"storm-click-{i}"
                )
                acks.append(time.perf_counter() - t)

        def foreign_writer() -> None:
            barrier.wait(timeout=60)
            for k in range(foreign_writes):
                entry = (
                    f"- userarn: arn:aws:iam::{ACCOUNT}:user/foreign-{k:02d}\n"
                    f"  username: foreign-{k:02d}\n"
                    "  groups:\n"
                    "  - viewers\n"
                )
                result.foreign_conflicts += append_to_map_users(admin, entry)
                added.append(entry)
                time.sleep(0.1)

        threads = [threading.Thread(target=click, args=(i,), daemon=True) for i in range(count)]
        writer = threading.Thread(target=foreign_writer, daemon=True)
        for t in [*threads, writer]:
            t.start()
        barrier.wait(timeout=60)
        t0 = time.perf_counter()
        fired_wall = time.time()

        remaining = {username(arn) for _, arn in users}
        first_allowed: dict[str, float] = {}
        next_sweep = time.monotonic() + 5
        while remaining and time.monotonic() < deadline:
            sweep = time.monotonic() >= next_sweep
            if sweep:
                next_sweep = time.monotonic() + 5
            for user in sorted(remaining):
                if (sweep or user in bindings.added) and can_list_pods(admin, user):
                    first_allowed[user] = time.perf_counter() - t0
                    remaining.discard(user)
            time.sleep(0.02)
        for t in [*threads, writer]:
            t.join(timeout=max(1.0, deadline - time.monotonic()))
        bindings.close()
        if bindings.error:
            result.failures.append(bindings.error)
        result.click_statuses = Counter(statuses)
        result.click_acks = sorted(acks)
        result.allowed = len(first_allowed)
        result.allowed_times = sorted(first_allowed.values())
        if not remaining:
            result.all_allowed_s = max(first_allowed.values())
        else:
            result.failures.append(f"{len(remaining)} never allowed within the budget")
        result.foreign_written = len(added)

        time.sleep(1.0)  # the bot's trailing writes, then compare
        after = dict(read_aws_auth(admin).data or {})
        storm_arns = {arn.lower() for _, arn in users}
        result.applied = sum(
            1 for m in aws_auth.owned_mappings(after) if m.arn.lower() in storm_arns
        )
        expected = Counter(foreign_before)
        for entry in added:
            for item in text_edits.load_list(entry):
                expected[("mapUsers", text_edits.canonical(item))] += 1
        present = Counter(foreign_entries(after))
        result.foreign_lost = sum((expected - present).values())
        result.foreign_unexpected = sum((present - expected).values())

        engine = make_engine(database_url)
        try:
            with engine.connect() as conn:
                rows = conn.execute(
                    select(grants.c.status, grants.c.decided_at).where(
                        grants.c.requester.like("U0B%")
                    )
                ).all()
        finally:
            engine.dispose()
        result.statuses_in_db = dict(Counter(r[0] for r in rows))
        result.decided_times = sorted(
            r[1].timestamp() - fired_wall for r in rows if r[1] is not None
        )
    finally:
        admin.close()
    return result


# -- 3. revoke lag after expiry with 10,000 active grants ----------------------------------------


@dataclass
class ExpiryResult:
    total: int = 0
    expiring: int = 0
    seed_seconds: float = 0.0
    bot_start_seconds: float = 0.0
    binding_lags: list[float] = field(default_factory=list)
    ended_lags: list[float] = field(default_factory=list)
    not_ended: int = 0
    bindings_not_seen_deleted: int = 0
    expired_before_bot_ready: int = 0
    peak_rss_kib: int | None = None
    #: (seconds since the bot was started, VmRSS KiB), every 0.5 s.
    rss_timeline: list[tuple[float, int]] = field(default_factory=list)
    #: Audit actions the bot recorded during the run (reconcile.reapplied would mean the
    #: seeded cluster state did not match the database).
    audit_actions: dict[str, int] = field(default_factory=dict)
    reconcile_details: list[str] = field(default_factory=list)
    #: Seconds after the bot was started at which the slowest revocations came due.
    worst_due_at: list[tuple[float, float]] = field(default_factory=list)
    log_problems: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def _sample_rss(
    pid: int, since: float, stop: threading.Event, into: list[tuple[float, int]]
) -> None:
    for _ in range(100_000):  # bounded; ends with the bot or when told
        kib = vm_kib(pid, "VmRSS")
        if kib is None or stop.is_set():
            return
        into.append((time.monotonic() - since, kib))
        stop.wait(0.5)


@dataclass(frozen=True)
class _Seed:
    grant_id: str
    requester: str
    arn: str
    namespace: str
    expires_at: datetime

    def rbac(self) -> RbacGrant:
        """The grant's objects as the bot derives them (`bot.domain.manifests` shapes them)."""
        return RbacGrant(
            grant_id=self.grant_id,
            profile=PROFILE,
            namespace=self.namespace,
            subject_user=username(self.arn),
            role_ref_kind="Role",
            role_ref_name=role_name(PROFILE),
            rules=tuple(
                PolicyRule(tuple(r["apiGroups"]), tuple(r["resources"]), tuple(r["verbs"]))
                for r in POD_RULES
            ),
            expires_at=self.expires_at,
            requester=self.requester,
        )


def _create_bindings(
    api: client.ApiClient, seeds: list[_Seed], *, workers: int, deadline: float
) -> None:
    rbac = client.RbacAuthorizationV1Api(api)

    def create(seed: _Seed) -> None:
        if time.monotonic() > deadline:
            raise TimeoutError("time budget spent while creating RoleBindings")
        body = role_binding_manifest(seed.rbac())
        # Raw JSON back, not deserialised: the bench's CPU is shared with the apiserver.
        response = rbac.create_namespaced_role_binding(
            seed.namespace, body, _preload_content=False, _request_timeout=30
        )
        response.read()
        response.release_conn()

    with cf.ThreadPoolExecutor(workers) as pool:
        for future in [pool.submit(create, s) for s in seeds]:
            future.result()


def _grant_row(seed: _Seed, now: datetime, *, warned: bool) -> dict[str, Any]:
    duration = timedelta(hours=1) if warned else seed.expires_at - now + timedelta(minutes=5)
    activated = seed.expires_at - duration
    return {
        "id": seed.grant_id,
        "requester": seed.requester,
        "principal_arn": seed.arn,
        "profile": PROFILE,
        "cluster": "dev",
        "namespace": seed.namespace,
        "duration_s": int(duration.total_seconds()),
        "reason": "seeded by bench",
        "status": "active",
        "created_at": activated - timedelta(minutes=2),
        "pending_until": activated + timedelta(hours=4),
        "decided_by": APPROVER,
        "decided_at": activated,
        "activated_at": activated,
        "expires_at": seed.expires_at,
        # The expiring grants were warned long ago, as in steady state; the others are not due.
        "warned_at": now - timedelta(minutes=5) if warned else None,
        "k8s_username": username(seed.arn),
        "mapping_applied": True,
        "rbac_applied": True,
        "attempts": 0,
        "approval_channel": "C0APPROVALS",
        "approval_ts": "1700000000.000100",
    }


def seed_active_grants(
    env: KubeEnv,
    database_url: str,
    *,
    total: int,
    expiring: int,
    team_roles: int,
    lead: float,
    window: float,
    deadline: float,
) -> list[_Seed]:
    """`total` active grants as the bot would hold them: RoleBindings (and the profile Role),
    aws-auth entries (one write) and database rows (inserted directly). `expiring` of them,
    one IAM user each, come due evenly between `lead` and `lead + window` seconds from now;
    the rest are hours away and shared by `team_roles` roles. Returns the expiring ones."""
    admin = api_client_from_kubeconfig(env.admin_kubeconfig)
    admin.configuration.connection_pool_maxsize = 16
    rbac = client.RbacAuthorizationV1Api(admin)
    ids: set[str] = set()
    while len(ids) < total:
        ids.add(new_id())
    id_list = sorted(ids)
    now = datetime.now(UTC)

    # The far-future grants: many requesters sharing team roles (mapRoles), as teams do;
    # 9,700 distinct principals would not fit in aws-auth's 1 MiB.
    far = [
        _Seed(
            grant_id=gid,
            requester=f"U0F{n:05d}",
            arn=f"arn:aws:iam::{ACCOUNT}:role/team-{n % team_roles:03d}",
            namespace=("default", "payments")[n % 2],
            expires_at=now + timedelta(hours=1) + timedelta(seconds=(n * 25) % (7 * 3600)),
        )
        for n, gid in enumerate(id_list[expiring:])
    ]
    for namespace in ("default", "payments"):
        role = role_manifest(replace(far[0], namespace=namespace).rbac())
        try:
            rbac.create_namespaced_role(namespace, role)
        except client.ApiException as exc:
            if exc.status != 409:
                raise
    _create_bindings(admin, far, workers=8, deadline=deadline)

    # The expiring grants: one IAM user each, so each revocation also removes an aws-auth entry.
    base = datetime.now(UTC) + timedelta(seconds=lead)
    soon = [
        _Seed(
            grant_id=gid,
            requester=f"U0E{n:05d}",
            arn=f"arn:aws:iam::{ACCOUNT}:user/exp-{n:04d}",
            namespace="default",
            expires_at=base + timedelta(seconds=window * n / max(1, expiring - 1)),
        )
        for n, gid in enumerate(id_list[:expiring])
    ]
    _create_bindings(admin, soon, workers=8, deadline=deadline)

    # aws-auth: every bot entry in one write, as the bot itself writes them (one flow line).
    cm = read_aws_auth(admin)
    before = dict(cm.data or {})
    data = dict(before)
    for key, seeds in (("mapRoles", far[:team_roles]), ("mapUsers", soon)):
        kind = "role" if key == "mapRoles" else "user"
        lines = [
            "- "
            + str(
                text_edits.flow_text(
                    aws_auth.Mapping(kind=kind, arn=s.arn, username=username(s.arn)).entry()
                )
            )
            + "\n"
            for s in seeds
        ]
        value = data.get(key, "")
        data[key] = (value if value.endswith("\n") or not value else value + "\n") + "".join(lines)
    aws_auth.verify_safe_edit(before, data)
    if len(aws_auth.owned_mappings(data)) != team_roles + expiring:
        raise RuntimeError("seeded aws-auth does not hold the expected bot entries")
    cm.data = data
    client.CoreV1Api(admin).replace_namespaced_config_map("aws-auth", "kube-system", cm)

    # The database, directly (the schema first, as `eks-access migrate` would).
    migrate.upgrade(database_url)
    engine = make_engine(database_url)
    now = datetime.now(UTC)
    rows = [_grant_row(s, now, warned=True) for s in soon] + [
        _grant_row(s, now, warned=False) for s in far
    ]
    with engine.begin() as conn:
        for start in range(0, len(rows), 1000):
            conn.execute(insert(grants), rows[start : start + 1000])
    engine.dispose()
    admin.close()
    return soon


def measure_expiry(
    env: KubeEnv,
    stub: SlackStub,
    bot_policy: dict[str, Any],
    database_url: str,
    workdir: Path,
    bot_env: dict[str, str],
    *,
    total: int,
    expiring: int,
    team_roles: int,
    lead: float,
    window: float,
    budget: float,
) -> ExpiryResult:
    """Seed `total` active grants (RoleBindings, aws-auth, database), of which `expiring`
    come due between `lead` and `lead + window` seconds after seeding, start the bot, and
    time each one's revocation."""
    result = ExpiryResult(total=total, expiring=expiring)
    deadline = time.monotonic() + budget
    started = time.monotonic()
    soon = seed_active_grants(
        env,
        database_url,
        total=total,
        expiring=expiring,
        team_roles=team_roles,
        lead=lead,
        window=window,
        deadline=deadline,
    )
    result.seed_seconds = time.monotonic() - started
    engine = make_engine(database_url)

    # Watch the expiring bindings disappear (event receipt time, wall clock like expires_at).
    bindings = BindingWatch(env.admin_kubeconfig, "default", max(30.0, lead + window + 120))

    workdir.mkdir(parents=True, exist_ok=True)
    bot = BotProcess(
        policy=bot_policy, database_url=database_url, stub=stub, workdir=workdir, extra_env=bot_env
    )
    t_start = time.monotonic()
    sampling = threading.Event()
    try:
        bot.start(timeout=60)
        result.bot_start_seconds = time.monotonic() - t_start
        ready_wall = time.time()
        assert bot.proc is not None
        sampler = threading.Thread(
            target=_sample_rss,
            args=(bot.proc.pid, t_start, sampling, result.rss_timeline),
            name="rss",
            daemon=True,
        )
        sampler.start()
        result.expired_before_bot_ready = sum(
            1 for s in soon if s.expires_at.timestamp() < ready_wall
        )
        soon_ids = [s.grant_id for s in soon]
        last_due = max(s.expires_at for s in soon).timestamp()
        ended: dict[str, datetime] = {}
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                for gid, ended_at in conn.execute(
                    select(grants.c.id, grants.c.ended_at).where(
                        grants.c.id.in_(soon_ids), grants.c.ended_at.is_not(None)
                    )
                ):
                    ended[gid] = ended_at
            if len(ended) == len(soon_ids) or time.time() > last_due + 90:
                break
            time.sleep(1.0)
        time.sleep(1.0)  # the last watch events
        result.peak_rss_kib = vm_kib(bot.proc.pid)
        with engine.connect() as conn:
            result.audit_actions = {
                str(action): int(n)
                for action, n in conn.execute(
                    select(audit_events.c.action, func.count()).group_by(audit_events.c.action)
                )
            }
            result.reconcile_details = [
                f"{action} {detail}"
                for action, detail in conn.execute(
                    select(audit_events.c.action, audit_events.c.detail)
                    .where(audit_events.c.action.like("reconcile.%"))
                    .order_by(audit_events.c.id)
                    .limit(20)
                )
            ]
    finally:
        sampling.set()
        bot.kill()
        bindings.close()
        engine.dispose()
    if bindings.error:
        result.failures.append(bindings.error)
    deleted_at = bindings.deleted
    expires = {s.grant_id: s.expires_at for s in soon}
    result.ended_lags = [(ended[g] - expires[g]).total_seconds() for g in soon_ids if g in ended]
    result.not_ended = len(soon_ids) - len(result.ended_lags)
    result.binding_lags = [
        deleted_at[g] - expires[g].timestamp() for g in soon_ids if g in deleted_at
    ]
    result.bindings_not_seen_deleted = len(soon_ids) - len(result.binding_lags)
    started_wall = ready_wall - result.bot_start_seconds
    result.worst_due_at = sorted(
        (
            ((ended[g] - expires[g]).total_seconds(), expires[g].timestamp() - started_wall)
            for g in soon_ids
            if g in ended
        ),
        reverse=True,
    )[:5]
    log = bot.log()
    for marker in LOG_MARKERS:
        count = log.count(marker)
        if count:
            result.log_problems.append(f"{count}× {marker.strip()!r}")
    return result
