"""The real Bolt app in-process, as bolt-python tests itself: signed requests go to
`app.dispatch`, and its WebClient talks to the loopback Slack stub, which records each call.

Everything after an ack runs inline (the bot's work pools and Bolt's own listener pool), so
`dispatch` returns only when the listener is done and a test reads the stub without waiting.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import Any

import pytest
from slack_bolt import App
from slack_bolt.request import BoltRequest

from bot.adapters.scheduling.scheduler import NoTimers
from bot.adapters.slack.app import WorkPools, build_app, web_client
from bot.adapters.slack.delivery import SlackDelivery
from bot.adapters.slack.directory import SlackDirectory
from bot.adapters.slack.home import HomeTab
from bot.adapters.slack.ids import Action
from bot.adapters.slack.outbox import OutboxWorker
from bot.adapters.storage.repository import SqlGrantStore
from bot.config import SlackSettings
from bot.domain.grants import Grant, GrantStatus, MappedIdentity, MappedVia
from bot.domain.ports import OwnedClusterState
from bot.domain.principals import Identity, Principal
from bot.domain.rbac import RbacGrant
from bot.policy_file import parse_policy
from bot.services.deps import Deps
from tests.support.bot import SIGNING_SECRET, SlackSender
from tests.support.clock import FakeClock
from tests.support.slack_stub import SlackStub

ALICE = "U0ALICE"  # requester
DAVE = "U0DAVE"  # requester, not an approver
CAROL = "U0CAROL"  # approver
ERIN = "U0ERIN"  # approver through the on-call user group
APPROVALS = "C0APPROVALS"
# Times as Slack shows them, for a request made at the fake clock's 12:00 for 2h.
ACTIVE_UNTIL = "<!date^1767276000^{date_short_pretty} {time}|2026-01-01 14:00 UTC>"
PENDING_UNTIL = "<!date^1767283200^{date_short_pretty} {time}|2026-01-01 16:00 UTC>"

POLICY: dict[str, Any] = {
    "slack": {"approval_channel": APPROVALS},
    "clusters": [{"name": "dev", "kubeconfig": "/unused/kubeconfig", "default": True}],
    "identities": {
        ALICE: "arn:aws:iam::111122223333:user/alice",
        DAVE: "arn:aws:iam::111122223333:role/dave-admin",
    },
    "defaults": {
        "min_duration": "10s",
        "max_duration": "8h",
        "warn_before": "10m",
        "pending_timeout": "4h",
    },
    "profiles": {
        "pods-read": {
            "description": "Read pods",
            "namespaces": ["default"],
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}],
            "max_duration": "4h",
            "requesters": ["*"],
            "approvers": [CAROL, "S0ONCALL"],
        },
    },
}


class Ids:
    """The ids the bot hands out, in order, so a test knows the next one and can tell that
    nothing was created (every request and extension takes one)."""

    def __init__(self) -> None:
        self.issued: list[str] = []

    def __call__(self) -> str:
        self.issued.append(f"id{len(self.issued) + 1:06d}".replace("0", "a").replace("1", "b"))
        return self.issued[-1]


class Inline(Executor):
    """Runs each job at once in the caller's thread; keeps what a job raised for the test."""

    def __init__(self) -> None:
        self.failures: list[BaseException] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as e:
            self.failures.append(e)
            future.set_exception(e)
        return future


class AppliedCluster:
    """A cluster that accepts every change: these tests are about Slack, not Kubernetes."""

    def __init__(self) -> None:
        self.bindings: dict[str, RbacGrant] = {}

    def get(self, name: str) -> AppliedCluster:
        return self

    def ensure_mapping(self, identity: Identity) -> MappedIdentity:
        return MappedIdentity(identity.owned_username, MappedVia.AWS_AUTH)

    def remove_mapping(self, principal: Principal) -> None:
        pass

    def prepare_mapping(self, identity: Identity) -> None:
        pass

    def ensure_rbac(self, rbac: RbacGrant) -> None:
        self.bindings[rbac.grant_id] = rbac

    def delete_rbac(self, grant_id: str, namespace: str) -> None:
        self.bindings.pop(grant_id, None)

    def owned_state(self, namespaces: set[str]) -> OwnedClusterState:
        return OwnedClusterState()


class InProcessSender(SlackSender):
    """Slack's payloads, signed as Slack signs them, dispatched to the app in this process."""

    def __init__(self, app: App, stub: SlackStub, outbox: OutboxWorker) -> None:
        super().__init__("in-process", stub)
        self.app = app
        self.outbox = outbox

    def deliver(self, body: str, headers: dict[str, str], timeout: float) -> tuple[int, str]:
        # A copy: Bolt types the headers as a dict of str | Sequence[str].
        response = self.app.dispatch(BoltRequest(body=body, headers=dict(headers)))
        # What the running bot's outbox worker sends within a second, sent now.
        while self.outbox.run_once():
            pass
        return response.status, response.body


@dataclass
class Scenario:
    stub: SlackStub
    slack: InProcessSender
    store: SqlGrantStore
    cluster: AppliedCluster
    ids: Ids

    def answer(self, key: str) -> str:
        """The one reply the user saw to the request sent with `key` (its response_url)."""
        replies = self.stub.of(f"response/{key}")
        assert len(replies) == 1, [r.args for r in replies]
        assert replies[0].args["response_type"] == "ephemeral"
        return str(replies[0].args["text"])

    def posted(self, method: str = "chat.postMessage", channel: str | None = None) -> list[str]:
        """What the bot wrote through `method`, as people read it."""
        return self.stub.texts(method, channel)

    def grant(self, grant_id: str) -> Grant:
        grant = self.store.get_grant(grant_id)
        assert grant is not None
        return grant

    def pending_request(self, user: str = ALICE, text: str = "grant pods-read 2h") -> Grant:
        self.slack.command(user, text, key="setup-request")
        grant = self.grant(self.ids.issued[-1])
        assert grant.status is GrantStatus.PENDING
        return grant

    def active_grant(self, user: str = ALICE) -> Grant:
        grant = self.pending_request(user)
        self.slack.click(CAROL, Action.APPROVE_GRANT, grant.id, key="setup-approve")
        active = self.grant(grant.id)
        assert active.status is GrantStatus.ACTIVE
        return active


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    """The storage is not what these tests prove: SQLite only."""
    return sqlite_url


@pytest.fixture
def scenario_policy() -> dict[str, Any]:
    """The policy file of the scenario (a test module may override this fixture)."""
    return POLICY


@pytest.fixture
def scenario(store: SqlGrantStore, scenario_policy: dict[str, Any]) -> Iterator[Scenario]:
    stub = SlackStub()
    stub.group_members["S0ONCALL"] = [ERIN]
    settings = SlackSettings(bot_token="xoxb-test", signing_secret=SIGNING_SECRET, api_url=stub.url)
    client = web_client(settings)
    policy = parse_policy(scenario_policy)
    clock = FakeClock()
    cluster = AppliedCluster()
    ids = Ids()
    deps = Deps(
        policy=policy,
        store=store,
        clusters=cluster,
        directory=SlackDirectory(client),
        clock=clock,
        timers=NoTimers(),
        new_id=ids,
    )
    work = Inline()
    app = build_app(settings, client, deps, WorkPools(answers=work, decisions=work))
    # Bolt runs a listener on its own pool and answers Slack as soon as it acks; inline, the
    # listener finishes (ack, then the work) before dispatch returns.
    app.listener_runner.listener_executor = work
    delivery = SlackDelivery(client, policy, store, HomeTab(deps, client).publish)
    outbox = OutboxWorker(store, delivery, clock)
    yield Scenario(stub, InProcessSender(app, stub, outbox), store, cluster, ids)
    stub.close()
    assert work.failures == []
