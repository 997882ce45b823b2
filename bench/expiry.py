"""Row 3: revoke lag after expiry, with 10,000 active grants held by a second bot.

The grants are seeded as the bot itself would hold them, through the bot's own code: the
database rows through `SqlGrantStore.add_grant` (each with one `bench.seeded` audit event),
the bot's aws-auth entries through `AwsAuthMapper.ensure` (its editor, on the data in memory,
written once), and the profile Role and RoleBindings shaped by `bot.domain.manifests`.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kubernetes import client
from sqlalchemy import Engine, event, func, select

from bench import rss
from bench.binding_watch import BindingWatch
from bench.bots import log_problems
from bench.cluster import read_aws_auth
from bench.policy import ACCOUNT, active_grant, role_and_binding
from bench.policy import profile as bench_profile
from bench.stats import Row, ms, percentile, verdict
from bot.adapters.kubernetes.aws_auth_mapper import AwsAuthMapper
from bot.adapters.kubernetes.aws_auth_store import Edit
from bot.adapters.kubernetes.connection import api_client_from_kubeconfig
from bot.adapters.storage import migrate
from bot.adapters.storage.engine import make_engine
from bot.adapters.storage.repository import SqlGrantStore
from bot.adapters.storage.tables import audit_events
from bot.domain import aws_auth
from bot.domain.grants import SYSTEM, AuditEvent, Grant
from bot.domain.ids import new_id
from bot.domain.policy import Profile
from bot.domain.principals import Identity
from tests.support.bot import BotProcess
from tests.support.kube import KubeEnv
from tests.support.slack_stub import SlackStub

TARGET_S = 0.5
#: The audit action of the seeded grants (left out of the bot's audit actions in the notes).
SEED_ACTION = "bench.seeded"


@dataclass
class ExpiryResult:
    total: int = 0
    expiring: int = 0
    seed_seconds: float = 0.0
    #: Seconds of the seeding by step: aws-auth, RoleBindings (and Roles), database.
    seed_parts: dict[str, float] = field(default_factory=dict)
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


class _AwsAuthInMemory:
    """The two methods of `AwsAuthStore` the mapper uses, on a `data` dict: the bot's own
    edits, each checked by its editor, and a single write at the end instead of hundreds."""

    def __init__(self, data: dict[str, str]) -> None:
        self.data = dict(data)

    def read(self) -> dict[str, str]:
        return dict(self.data)

    def update(self, edit: Edit, *, create: bool) -> dict[str, str]:
        self.data = edit(dict(self.data))
        return dict(self.data)


def _map_in_aws_auth(admin: client.ApiClient, arns: list[str]) -> None:
    """The bot's entries for `arns`, as `AwsAuthMapper.ensure` adds them, in one write."""
    cm = read_aws_auth(admin)
    store = _AwsAuthInMemory(dict(cm.data or {}))
    mapper = AwsAuthMapper(store)  # type: ignore[arg-type]
    for arn in arns:
        mapper.ensure(Identity.parse(arn))
    if len(aws_auth.owned_mappings(store.data)) != len(arns):
        raise RuntimeError("seeded aws-auth does not hold the expected bot entries")
    cm.data = store.data
    client.CoreV1Api(admin).replace_namespaced_config_map("aws-auth", "kube-system", cm)


def _create_bindings(
    api: client.ApiClient,
    seeds: list[Grant],
    rbac_profile: Profile,
    *,
    workers: int,
    deadline: float,
) -> None:
    rbac = client.RbacAuthorizationV1Api(api)

    def create(seed: Grant) -> None:
        if time.monotonic() > deadline:
            raise TimeoutError("time budget spent while creating RoleBindings")
        _, body = role_and_binding(seed, rbac_profile)
        # Raw JSON back, not deserialised: the bench's CPU is shared with the apiserver.
        response = rbac.create_namespaced_role_binding(
            seed.namespace, body, _preload_content=False, _request_timeout=30
        )
        response.read()
        response.release_conn()

    with cf.ThreadPoolExecutor(workers) as pool:
        for future in [pool.submit(create, s) for s in seeds]:
            future.result()


def _seeding_engine(database_url: str) -> Engine:
    """The store's engine without the wait for the disk at every commit: the database is
    thrown away after the run, and 10,000 `add_grant` transactions would otherwise spend
    most of their time on it (the statements are the store's, unchanged)."""
    if database_url.startswith("sqlite"):
        engine = make_engine(database_url)
        event.listen(engine, "connect", lambda conn, _: conn.execute("PRAGMA synchronous=NORMAL"))
        return engine
    options = {"connect_timeout": 5, "options": "-c synchronous_commit=off"}
    return make_engine(database_url, connect_args=options)


def _add_grants(store: SqlGrantStore, seeds: list[Grant], *, deadline: float) -> None:
    """One `add_grant` per grant, as the bot stores a request (one transaction each)."""
    for n, grant in enumerate(seeds):
        if n % 500 == 0 and time.monotonic() > deadline:
            raise TimeoutError("time budget spent while seeding the database")
        assert grant.activated_at is not None
        store.add_grant(
            grant,
            AuditEvent(
                at=grant.activated_at,
                actor=SYSTEM,
                action=SEED_ACTION,
                grant_id=grant.id,
                detail="an active grant seeded by the benchmark",
            ),
        )


@contextlib.contextmanager
def _timed(spent: dict[str, float], step: str) -> Iterator[None]:
    started = time.monotonic()
    try:
        yield
    finally:
        spent[step] = spent.get(step, 0.0) + time.monotonic() - started


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
    spent: dict[str, float],
) -> list[Grant]:
    """`total` active grants as the bot would hold them: database rows, RoleBindings (and the
    profile Role) and aws-auth entries. `expiring` of them, one IAM user each, come due
    evenly between `lead` and `lead + window` seconds after the last of the other grants is
    seeded; the rest are hours away and shared by `team_roles` roles. Returns the expiring
    ones. Only what depends on their due time is done after it is fixed. `spent` gets the
    seconds of each step."""
    rbac_profile = bench_profile(env.bot_kubeconfig)
    admin = api_client_from_kubeconfig(env.admin_kubeconfig)
    admin.configuration.connection_pool_maxsize = 16
    rbac = client.RbacAuthorizationV1Api(admin)
    ids: set[str] = set()
    while len(ids) < total:
        ids.add(new_id())
    id_list = sorted(ids)
    # The schema first, as `eks-access migrate` would.
    migrate.upgrade(database_url)
    engine = _seeding_engine(database_url)
    store = SqlGrantStore(engine)
    try:
        now = datetime.now(UTC)
        # The far-future grants: many requesters sharing team roles (mapRoles), as teams do;
        # 9,700 distinct principals would not fit in aws-auth's 1 MiB.
        far = [
            active_grant(
                grant_id=gid,
                requester=f"U0F{n:05d}",
                arn=f"arn:aws:iam::{ACCOUNT}:role/team-{n % team_roles:03d}",
                namespace=("default", "payments")[n % 2],
                activated_at=now - timedelta(minutes=5),
                expires_at=now + timedelta(hours=1) + timedelta(seconds=(n * 25) % (7 * 3600)),
            )
            for n, gid in enumerate(id_list[expiring:])
        ]
        # The expiring grants: one IAM user each, so each revocation also removes an aws-auth
        # entry.
        soon_arns = [f"arn:aws:iam::{ACCOUNT}:user/exp-{n:04d}" for n in range(expiring)]
        with _timed(spent, "aws-auth"):
            _map_in_aws_auth(admin, [g.principal_arn for g in far[:team_roles]] + soon_arns)
        with _timed(spent, "RoleBindings"):
            for namespace in ("default", "payments"):
                role, _ = role_and_binding(replace(far[0], namespace=namespace), rbac_profile)
                try:
                    rbac.create_namespaced_role(namespace, role)
                except client.ApiException as exc:
                    if exc.status != 409:
                        raise
            _create_bindings(admin, far, rbac_profile, workers=8, deadline=deadline)
        with _timed(spent, "database"):
            _add_grants(store, far, deadline=deadline)

        now = datetime.now(UTC)
        base = now + timedelta(seconds=lead)
        soon = []
        for n, (gid, arn) in enumerate(zip(id_list[:expiring], soon_arns, strict=True)):
            expires_at = base + timedelta(seconds=window * n / max(1, expiring - 1))
            soon.append(
                active_grant(
                    grant_id=gid,
                    requester=f"U0E{n:05d}",
                    arn=arn,
                    namespace="default",
                    activated_at=expires_at - timedelta(hours=1),
                    expires_at=expires_at,
                    # Warned long ago, as in steady state; the others are not due.
                    warned_at=now - timedelta(minutes=5),
                )
            )
        with _timed(spent, "RoleBindings"):
            _create_bindings(admin, soon, rbac_profile, workers=8, deadline=deadline)
        with _timed(spent, "database"):
            _add_grants(store, soon, deadline=deadline)
    finally:
        engine.dispose()
        admin.close()
    return soon


def measure(
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
        spent=result.seed_parts,
    )
    result.seed_seconds = time.monotonic() - started
    engine = make_engine(database_url)
    store = SqlGrantStore(engine)

    # Watch the expiring bindings disappear (event receipt time, wall clock like expires_at).
    bindings = BindingWatch(env.admin_kubeconfig, "default", max(30.0, lead + window + 120))

    workdir.mkdir(parents=True, exist_ok=True)
    bot = BotProcess(
        policy=bot_policy, database_url=database_url, stub=stub, workdir=workdir, extra_env=bot_env
    )
    expires = {g.id: g.expires_at for g in soon if g.expires_at is not None}
    t_start = time.monotonic()
    sampling = threading.Event()
    ended: dict[str, datetime] = {}
    try:
        bot.start(timeout=60)
        result.bot_start_seconds = time.monotonic() - t_start
        ready_wall = time.time()
        assert bot.proc is not None
        sampler = threading.Thread(
            target=rss.sample,
            args=(bot.proc.pid, t_start, sampling, result.rss_timeline),
            name="rss",
            daemon=True,
        )
        sampler.start()
        result.expired_before_bot_ready = sum(
            1 for due in expires.values() if due.timestamp() < ready_wall
        )
        last_due = max(expires.values()).timestamp()
        waiting = dict(expires)
        while time.monotonic() < deadline:
            # Only the grants already due and not yet ended: a handful of reads a second.
            now = datetime.now(UTC)
            for gid in [g for g, due in waiting.items() if due <= now]:
                grant = store.get_grant(gid)
                if grant is not None and grant.ended_at is not None:
                    ended[gid] = grant.ended_at
                    del waiting[gid]
            if not waiting or time.time() > last_due + 90:
                break
            time.sleep(1.0)
        time.sleep(1.0)  # the last watch events
        result.peak_rss_kib = rss.vm_kib(bot.proc.pid)
        result.audit_actions, result.reconcile_details = _audit_summary(engine)
    finally:
        sampling.set()
        bot.kill()
        bindings.close()
        engine.dispose()
    if bindings.error:
        result.failures.append(bindings.error)
    soon_ids = list(expires)
    deleted_at = bindings.deleted
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
    result.log_problems = log_problems(bot.log())
    return result


def _audit_summary(engine: Engine) -> tuple[dict[str, int], list[str]]:
    """What the bot recorded during the run: its audit actions over every grant (the seed's
    own left out), and the first reconcile events. A report over the whole table, which the
    store has no query for."""
    with engine.connect() as conn:
        actions = {
            str(action): int(n)
            for action, n in conn.execute(
                select(audit_events.c.action, func.count())
                .where(audit_events.c.action != SEED_ACTION)
                .group_by(audit_events.c.action)
            )
        }
        reconcile = [
            f"{action} {detail}"
            for action, detail in conn.execute(
                select(audit_events.c.action, audit_events.c.detail)
                .where(audit_events.c.action.like("reconcile.%"))
                .order_by(audit_events.c.id)
                .limit(20)
            )
        ]
    return actions, reconcile


def rows(ex: ExpiryResult) -> list[Row]:
    out: list[Row] = []
    for label, lags, missing in (
        ("RoleBinding gone (watch)", ex.binding_lags, ex.bindings_not_seen_deleted),
        ("grant ended in the database", ex.ended_lags, ex.not_ended),
    ):
        p50, p99 = percentile(lags, 50), percentile(lags, 99)
        ok = (not math.isnan(p99)) and p99 <= TARGET_S and missing == 0
        out.append(
            (
                "3",
                f"Revoke lag after expiry, {label}, p50 / p99, {len(lags)} of "
                f"{ex.expiring} expiring among {ex.total:,} active"
                + (f" ({missing} not revoked in time)" if missing else ""),
                f"{ms(p50)} / {ms(p99)}",
                "–",
                "–",
                f"p99 ≤ {TARGET_S * 1000:.0f} ms",
                verdict(ok),
            )
        )
    return out


def notes(ex: ExpiryResult) -> list[str]:
    out = []
    if ex.binding_lags:
        out.append(
            f"revoke lag max: RoleBinding {ms(max(ex.binding_lags))}, ended "
            f"{ms(max(ex.ended_lags) if ex.ended_lags else math.nan)}; seeding took "
            f"{ex.seed_seconds:.0f} s ("
            + ", ".join(f"{step} {s:.0f} s" for step, s in ex.seed_parts.items())
            + f"); the bot was healthy {ex.bot_start_seconds:.1f} s after start"
            + (
                f"; {ex.expired_before_bot_ready} grants were due before the bot was up"
                if ex.expired_before_bot_ready
                else ""
            )
        )
    if ex.worst_due_at:
        out.append(
            "slowest revocations (lag, due at seconds after the bot started): "
            + ", ".join(f"{ms(lag)} @ +{due:.0f} s" for lag, due in ex.worst_due_at)
            + f"; bot audit actions: {ex.audit_actions}"
        )
    if ex.reconcile_details:
        out.append("reconcile during the expiry run: " + "; ".join(ex.reconcile_details))
    if ex.rss_timeline:
        marks, shown = [], -10.0
        for t, kib in ex.rss_timeline:
            if t - shown >= 5.0:
                marks.append(f"+{t:.0f} s {rss.mb(kib):.0f}")
                shown = t
        out.append(
            f"bot RSS (MB) by seconds since its start, {ex.total:,} active grants "
            "(reconcile runs at +5 s and every 60 s): " + ", ".join(marks)
        )
    if ex.failures:
        out.append("expiry run: " + "; ".join(ex.failures))
    return out
