"""The one place that wires everything together.

The core — the policy, the database, the clusters and what every service needs — is built on
its own, so the operator commands (`sweep`, `audit`, `plan`) run without Slack. `serve` adds
the scheduler and the Slack app on top.
"""

from __future__ import annotations

import gc
import logging
from dataclasses import dataclass

from slack_bolt import App
from sqlalchemy import Engine

from bot.adapters.clusters import ClusterRegistry, shared_sessions_connector
from bot.adapters.faults import CrashingGateway
from bot.adapters.kubeconfigs import check_kubeconfigs
from bot.adapters.scheduling.leader import leader_for
from bot.adapters.scheduling.scheduler import NoTimers, Scheduler
from bot.adapters.slack.app import WorkPools, build_app, web_client, work_pool
from bot.adapters.slack.directory import SlackDirectory
from bot.adapters.slack.notifier import SlackNotifier
from bot.adapters.storage import migrate
from bot.adapters.storage.engine import make_engine
from bot.adapters.storage.repository import SqlGrantStore
from bot.adapters.undelivered import NoDirectory, UndeliveredNotifier
from bot.adapters.web.priority import AcksFirst
from bot.config import Settings
from bot.domain.clock import SystemClock
from bot.domain.errors import EksAccessError
from bot.domain.policy import Policy
from bot.domain.ports import Clock, Directory, ExpiryTimers, Notifier
from bot.policy_file import load_policy
from bot.services.deps import Deps
from bot.services.expire import ExpireGrant
from bot.services.reconcile_all import ReconcileAll
from bot.services.sweep import SweepDue, SweepReport

log = logging.getLogger("eks-access")


@dataclass
class Core:
    """Everything the services need, and nothing of Slack's but the messages they send."""

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


def open_database(settings: Settings) -> Engine:
    """Bring the schema up to date, then connect."""
    migrate.upgrade(settings.database_url)
    return make_engine(settings.database_url)


def build_core(
    settings: Settings,
    policy: Policy,
    engine: Engine,
    *,
    notifier: Notifier,
    directory: Directory,
    timers: ExpiryTimers,
) -> Core:
    store = SqlGrantStore(engine)
    clock = SystemClock()
    deps = Deps(
        policy=policy,
        store=store,
        clusters=_clusters(settings, policy, clock),
        notifier=notifier,
        directory=directory,
        clock=clock,
        timers=timers,
        retry=settings.retry,
    )
    return Core(engine, store, deps)


def _clusters(settings: Settings, policy: Policy, clock: Clock) -> ClusterRegistry:
    points = settings.crash_points
    if not points:
        return ClusterRegistry(policy, clock)
    log.warning("fault injection is on: crash points %s", ", ".join(points))
    inner = shared_sessions_connector()
    return ClusterRegistry(policy, clock, lambda c, k: CrashingGateway(inner(c, k), points))


def sweep_once(settings: Settings) -> SweepReport:
    """`eks-access sweep`: one pass now. With SLACK_BOT_TOKEN the messages it owes are sent;
    without, each is logged as not delivered (the state changes are the same)."""
    policy = load_policy(settings.policy_path)
    if settings.slack.bot_token:
        notifier: SlackNotifier | UndeliveredNotifier = SlackNotifier(
            web_client(settings.slack), policy
        )
    else:
        notifier = UndeliveredNotifier()
    core = build_core(
        settings,
        policy,
        open_database(settings),
        notifier=notifier,
        directory=NoDirectory(),
        timers=NoTimers(),
    )
    try:
        return SweepDue(core.deps).execute()
    finally:
        notifier.close()
        core.close()


@dataclass
class Server:
    """`serve`: the core, the scheduler and the Slack app."""

    core: Core
    scheduler: Scheduler
    notifier: SlackNotifier
    app: App
    work: WorkPools
    acks: AcksFirst

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
        )

    def close(self) -> None:
        self.work.shutdown()
        self.scheduler.shutdown()
        self.notifier.close()
        self.core.close()


def build_server(settings: Settings) -> Server:
    policy = load_policy(settings.policy_path)
    check_kubeconfigs(policy)  # before the database and Slack: a wrong path is the first word
    engine = open_database(settings)
    client = web_client(settings.slack)
    notifier = SlackNotifier(client, policy)
    scheduler = Scheduler(
        leader=leader_for(engine),
        sweep_interval=settings.scheduler.sweep_interval,
        reconcile_interval=settings.scheduler.reconcile_interval,
    )
    timers: ExpiryTimers = scheduler if settings.scheduler.run else NoTimers()
    core = build_core(
        settings, policy, engine, notifier=notifier, directory=SlackDirectory(client), timers=timers
    )
    acks = AcksFirst()
    work = WorkPools(
        answers=work_pool(2, "answers", before_each=acks.wait_turn),
        decisions=work_pool(4, "decisions"),  # an approval's latency is what users wait on
    )
    app = build_app(settings.slack, client, core.deps, work)
    return Server(core, scheduler, notifier, app, work, acks)


def freeze_long_lived_objects() -> None:
    """Move what is alive now (modules, models, clients) out of the garbage collector's way.

    The kubernetes client, pydantic and Bolt leave 100,000+ long-lived objects; every full
    collection would walk them all, a pause of 50-100 ms in the middle of some request.
    """
    gc.collect()
    gc.freeze()


def serve(settings: Settings) -> None:
    """Run until killed. Nothing depends on a clean shutdown: state lives in the database."""
    server = build_server(settings)
    freeze_long_lived_objects()
    if settings.scheduler.run:
        server.start_scheduler()
    try:
        if settings.slack.app_token:
            from slack_bolt.adapter.socket_mode import SocketModeHandler

            log.info("eks-access connecting to Slack by Socket Mode")
            SocketModeHandler(server.app, settings.slack.app_token).start()
        else:
            from waitress import serve as waitress_serve

            from bot.adapters.web.server import wsgi_app

            http = settings.http
            log.info("eks-access listening on http://%s:%s/slack/events", http.host, http.port)
            waitress_serve(
                wsgi_app(server.app, server.core.healthy, server.acks),
                host=http.host,
                port=http.port,
                threads=16,
                ident="eks-access",
            )
    finally:
        server.close()
