"""The one place that wires everything together.

The core — the policy, the database, the clusters and what every service needs — is built on
its own, so the operator commands (`sweep`, `audit`, `plan`) run without Slack: the messages
their changes owe wait in the outbox for the running bot. `serve` adds the scheduler, the
outbox worker and the Slack app on top.
"""

from __future__ import annotations

import gc
import logging
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

from slack_bolt import App
from sqlalchemy import Engine

from bot.adapters.clusters import ClusterRegistry, shared_sessions_connector
from bot.adapters.faults import CrashingGateway
from bot.adapters.kubeconfigs import check_kubeconfigs
from bot.adapters.metrics import Metrics
from bot.adapters.scheduling.leader import leader_for
from bot.adapters.scheduling.scheduler import NoTimers, Scheduler
from bot.adapters.slack.app import WorkPools, build_app, web_client, work_pool
from bot.adapters.slack.delivery import SlackDelivery
from bot.adapters.slack.directory import NoDirectory, SlackDirectory
from bot.adapters.slack.home import HomeTab
from bot.adapters.slack.outbox import OutboxWorker
from bot.adapters.storage import migrate
from bot.adapters.storage.engine import make_engine
from bot.adapters.storage.repository import SqlGrantStore
from bot.adapters.web.listeners import serve_http, serve_socket_mode
from bot.adapters.web.priority import Precedence
from bot.config import Settings
from bot.domain.clock import SystemClock
from bot.domain.errors import EksAccessError
from bot.domain.policy import Policy
from bot.domain.ports import Clock, Directory, ExpiryTimers
from bot.policy_file import load_policy
from bot.services.deps import Deps
from bot.services.expire import ExpireGrant
from bot.services.reconcile_all import ReconcileAll
from bot.services.sweep import SweepDue, SweepReport

log = logging.getLogger("eks-access")


@dataclass
class Core:
    """Everything the services need, and nothing of Slack's."""

    settings: Settings
    engine: Engine
    store: SqlGrantStore
    deps: Deps

    def healthy(self) -> bool:
        try:
            self.store.ping()
            return True
        except EksAccessError:
            return False

    def close(self) -> None:
        self.engine.dispose()


def open_database(settings: Settings, *, migrate_in_child: bool = False) -> Engine:
    """Bring the schema up to date, then connect. The long-running bot migrates in a child
    process, so what migrating loads does not stay in its memory."""
    if migrate_in_child:
        migrate.upgrade_in_child(settings.database_url)
    else:
        migrate.upgrade(settings.database_url)
    # Every decision thread may hold a connection at once, beside the listeners, the answers,
    # the scheduler's jobs and the outbox: room for all of them, opened only when first needed
    # and then kept (a connection opened past the pool's size is closed after each use, and
    # opening one costs more than the transaction it serves).
    return make_engine(
        settings.database_url, pool_size=settings.decision_threads + 10, max_overflow=10
    )


def build_core(
    settings: Settings,
    policy: Policy,
    engine: Engine,
    *,
    directory: Directory,
    timers: ExpiryTimers,
    metrics: Metrics | None = None,
) -> Core:
    store = SqlGrantStore(engine)
    clock = SystemClock()
    deps = Deps(
        policy=policy,
        store=store,
        clusters=_clusters(settings, policy, clock, metrics),
        directory=directory,
        clock=clock,
        timers=timers,
        retry=settings.retry,
        # an activation's RoleBinding is made while its identity is mapped
        beside=ThreadPoolExecutor(settings.decision_threads, thread_name_prefix="eks-access-bind"),
    )
    return Core(settings, engine, store, deps)


def _clusters(
    settings: Settings, policy: Policy, clock: Clock, metrics: Metrics | None
) -> ClusterRegistry:
    connect = shared_sessions_connector()
    points = settings.crash_points
    if points:
        log.warning("fault injection is on: crash points %s", ", ".join(points))
        plain = connect
        connect = lambda c, k: CrashingGateway(plain(c, k), points)  # noqa: E731
    if metrics is not None:
        unmetered = connect
        connect = lambda c, k: metrics.gateway(c.name, unmetered(c, k))  # noqa: E731
    return ClusterRegistry(policy, clock, connect)


def sweep_once(settings: Settings) -> SweepReport:
    """`eks-access sweep`: one pass now, without Slack. The messages it owes stay in the
    outbox; the running bot sends them."""
    policy = load_policy(settings.policy_path)
    core = build_core(
        settings, policy, open_database(settings), directory=NoDirectory(), timers=NoTimers()
    )
    try:
        return SweepDue(core.deps).execute()
    finally:
        core.close()


@dataclass
class Server:
    """`serve`: the core, the scheduler and the Slack app."""

    core: Core
    scheduler: Scheduler
    outbox: OutboxWorker
    metrics: Metrics
    app: App
    work: WorkPools
    acks: Precedence

    def start_scheduler(self) -> None:
        deps = self.core.deps
        first_pass = [True]

        def reconcile_all() -> None:
            ReconcileAll(deps).execute()
            if first_pass[0]:  # the cluster clients are built now: freeze them too
                first_pass[0] = False
                freeze_long_lived_objects()

        self.scheduler.start(
            expire=lambda grant_id: ExpireGrant(deps).execute(grant_id=grant_id),
            sweep=lambda: SweepDue(deps).execute(),
            reconcile=reconcile_all,
            deliver=self.outbox.run_once,
            deliver_interval=self.core.settings.scheduler.deliver_interval,
        )

    def stop(self, grace: float) -> None:
        """Finish what is in flight within `grace` seconds, then let go of everything."""
        deadline = time.monotonic() + grace
        self.work.drain(deadline)  # answers and decisions started before the stop
        self.scheduler.shutdown(deadline)  # the jobs running now, then the lock
        self.core.close()


def build_server(settings: Settings) -> Server:
    policy = load_policy(settings.policy_path)
    check_kubeconfigs(policy)  # before the database and Slack: a wrong path is the first word
    engine = open_database(settings, migrate_in_child=True)
    client = web_client(settings.slack)
    scheduler = Scheduler(
        leader=leader_for(engine),
        sweep_interval=settings.scheduler.sweep_interval,
        reconcile_interval=settings.scheduler.reconcile_interval,
    )
    timers: ExpiryTimers = scheduler if settings.scheduler.run else NoTimers()
    metrics = Metrics(SqlGrantStore(engine), lambda: scheduler.leading)
    core = build_core(
        settings,
        policy,
        engine,
        directory=SlackDirectory(client),
        timers=timers,
        metrics=metrics,
    )
    core.store.on_applied = metrics.applied
    # Approvals go before the messages about them: a burst of approvals is applied first,
    # and the outbox's deliveries (the Home views, the thread replies…) follow.
    approvals_first = Precedence(max_wait=0.25)
    outbox = OutboxWorker(
        core.store,
        SlackDelivery(client, policy, core.store, HomeTab(core.deps, client).publish),
        core.deps.clock,
        give_up_after=timedelta(seconds=settings.scheduler.give_up_after),
        on_failure=metrics.delivery_failed,
        before_each=approvals_first.wait_turn,
    )
    acks = Precedence()
    work = WorkPools(
        answers=work_pool(2, "answers", before_each=acks.wait_turn),
        # An approval's latency is what users wait on, and it waits mostly on its cluster.
        decisions=work_pool(settings.decision_threads, "decisions", goes_first=approvals_first),
    )
    app = build_app(settings.slack, client, core.deps, work)
    return Server(core, scheduler, outbox, metrics, app, work, acks)


def freeze_long_lived_objects() -> None:
    """Move what is alive now (modules, models, clients) out of the garbage collector's way.

    The kubernetes client, pydantic and Bolt leave 100,000+ long-lived objects; every full
    collection would walk them all, a pause of 50-100 ms in the middle of some request.
    """
    gc.collect()
    gc.freeze()


#: The longest a stopping process finishes what is in flight (Kubernetes' default grace is 30 s).
STOP_GRACE = 10.0


def serve(settings: Settings) -> None:
    """Run until SIGTERM or SIGINT (Kubernetes, Heroku, App Engine, Ctrl-C), then stop cleanly:
    stop taking requests, finish what is in flight (at most STOP_GRACE seconds), release the
    scheduler lock so another replica takes over at its next tick, and return. Nothing depends
    on a clean stop, though: state lives in the database, and a kill -9 converges too."""
    server = build_server(settings)
    freeze_long_lived_objects()
    if settings.scheduler.run:
        server.start_scheduler()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _stop)
    try:
        core, http = server.core, settings.http
        if settings.slack.app_token:
            serve_socket_mode(
                server.app,
                settings.slack.app_token,
                core.healthy,
                server.metrics.render,
                host=http.host,
                metrics_port=http.metrics_port,
            )
        else:
            serve_http(
                server.app,
                core.healthy,
                server.metrics.render,
                server.acks,
                host=http.host,
                port=http.port,
            )
    finally:
        server.stop(grace=STOP_GRACE)
        log.info("eks-access stopped")


def _stop(signum: int, _frame: object) -> None:
    """The first SIGTERM/SIGINT stops cleanly; a second one ends the process at once."""
    for other in (signal.SIGTERM, signal.SIGINT):
        signal.signal(other, signal.SIG_DFL)
    log.info("eks-access stopping (%s)", signal.Signals(signum).name)
    raise SystemExit(0)
