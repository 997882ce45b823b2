"""The one place that wires everything together."""

from __future__ import annotations

import gc
import logging
from dataclasses import dataclass
from datetime import timedelta

from slack_bolt import App
from sqlalchemy import Engine

from bot.adapters.clusters import ClusterRegistry, shared_sessions_connector
from bot.adapters.faults import CrashingGateway, crash_points_from_env
from bot.adapters.scheduling.leader import leader_for
from bot.adapters.scheduling.scheduler import NoTimers, Scheduler
from bot.adapters.slack.app import WorkPools, build_app, web_client, work_pool
from bot.adapters.slack.directory import SlackDirectory
from bot.adapters.slack.notifier import SlackNotifier
from bot.adapters.storage import migrate
from bot.adapters.storage.engine import make_engine
from bot.adapters.storage.repository import SqlGrantStore
from bot.adapters.web.priority import AcksFirst
from bot.config import Settings
from bot.domain.clock import SystemClock
from bot.domain.errors import EksAccessError
from bot.domain.policy import Policy
from bot.domain.ports import Clock
from bot.policy_file import load_policy
from bot.services.deps import Deps, Retry
from bot.services.expire import ExpireGrant
from bot.services.reconcile import ReconcileCluster
from bot.services.sweep import SweepDue

log = logging.getLogger("eks-access")


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    store: SqlGrantStore
    deps: Deps
    scheduler: Scheduler
    notifier: SlackNotifier
    app: App
    work: WorkPools
    acks: AcksFirst

    def start_scheduler(self) -> None:
        deps = self.deps

        first_pass = [True]

        def reconcile_all() -> None:
            for cluster in deps.policy.clusters:
                try:
                    ReconcileCluster(deps).execute(cluster=cluster.name)
                except EksAccessError as e:
                    log.warning("reconcile of %s skipped: %s", cluster.name, e)
            if first_pass[0]:  # the cluster clients are built now: freeze them too
                first_pass[0] = False
                freeze_long_lived_objects()

        self.scheduler.start(
            expire=lambda grant_id: ExpireGrant(deps).execute(grant_id=grant_id),
            sweep=lambda: SweepDue(deps).execute(),
            reconcile=reconcile_all,
        )

    def healthy(self) -> bool:
        try:
            self.store.ping()
            return True
        except EksAccessError:
            return False

    def close(self) -> None:
        self.work.shutdown()
        self.scheduler.shutdown()
        self.notifier.close()
        self.engine.dispose()


def freeze_long_lived_objects() -> None:
    """Move what is alive now (modules, models, clients) out of the garbage collector's way.

    The kubernetes client, pydantic and Bolt leave 100,000+ long-lived objects; every full
    collection would walk them all, a pause of 50-100 ms in the middle of some request.
    """
    gc.collect()
    gc.freeze()


def build(settings: Settings, *, clock: Clock | None = None) -> Runtime:
    policy = load_policy(settings.policy_path)
    migrate.upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    store = SqlGrantStore(engine)
    clock = clock or SystemClock()
    client = web_client(settings)
    notifier = SlackNotifier(client, policy)
    scheduler = Scheduler(
        leader=leader_for(engine),
        sweep_interval=settings.sweep_interval,
        reconcile_interval=settings.reconcile_interval,
    )
    deps = Deps(
        policy=policy,
        store=store,
        clusters=_clusters(policy, clock),
        notifier=notifier,
        directory=SlackDirectory(client),
        clock=clock,
        timers=scheduler if settings.run_scheduler else NoTimers(),
        retry=Retry(lease=timedelta(seconds=settings.step_lease)),
    )
    acks = AcksFirst()
    work = WorkPools(
        answers=work_pool(2, "answers", before_each=acks.wait_turn),
        decisions=work_pool(4, "decisions"),  # an approval's latency is what users wait on
    )
    app = build_app(settings, client, deps, work)
    return Runtime(settings, engine, store, deps, scheduler, notifier, app, work, acks)


def _clusters(policy: Policy, clock: Clock) -> ClusterRegistry:
    points = crash_points_from_env()
    if not points:
        return ClusterRegistry(policy, clock)
    log.warning("fault injection is on: crash points %s", ", ".join(points))
    inner = shared_sessions_connector()
    return ClusterRegistry(policy, clock, lambda c, k: CrashingGateway(inner(c, k), points))


def serve(settings: Settings) -> None:
    """Run until killed. Nothing depends on a clean shutdown: state lives in the database."""
    runtime = build(settings)
    freeze_long_lived_objects()
    if settings.run_scheduler:
        runtime.start_scheduler()
    try:
        if settings.slack_app_token:
            from slack_bolt.adapter.socket_mode import SocketModeHandler

            log.info("eks-access connecting to Slack by Socket Mode")
            SocketModeHandler(runtime.app, settings.slack_app_token).start()
        else:
            from waitress import serve as waitress_serve

            from bot.adapters.web.server import wsgi_app

            log.info(
                "eks-access listening on http://%s:%s/slack/events", settings.host, settings.port
            )
            waitress_serve(
                wsgi_app(runtime.app, runtime.healthy, runtime.acks),
                host=settings.host,
                port=settings.port,
                threads=16,
                ident="eks-access",
            )
    finally:
        runtime.close()
