"""Concurrent aws-auth edits through one gateway are coalesced, on a real apiserver.

Each caller of `ensure_mapping` / `remove_mapping` waits for the write that carries its change
and gets its own answer; the bot's writes are counted at the wire (PUTs of aws-auth). What
the authenticator makes of the result is checked with the independent models
(`tests.support.aws_auth_model`, and signing in through `tests.support.authenticator`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import pytest
from kubernetes import client

from bot.adapters.kubernetes.aws_auth_mapper import AwsAuthMapper
from bot.adapters.kubernetes.gateway import KubernetesClusterGateway
from bot.domain.aws_auth import AwsAuthAmbiguous
from bot.domain.errors import PermanentError
from bot.domain.grants import MappedIdentity, MappedVia
from bot.domain.principals import Identity, Principal
from tests.adapters.kubernetes.conftest import CountingApiClient, principal, read_aws_auth
from tests.adapters.kubernetes.test_authenticator_model import forbidden_user, list_pods
from tests.support import aws_auth_model as model
from tests.support.kube import (
    ADMIN_USER_ARN,
    FOREIGN_AWS_AUTH_ANNOTATIONS,
    FOREIGN_AWS_AUTH_BINARY,
    FOREIGN_AWS_AUTH_LABELS,
    FOREIGN_MAP_ACCOUNTS,
    FOREIGN_MAP_ROLES,
    FOREIGN_MAP_USERS,
    NODE_ROLE_ARN,
    KubeEnv,
)
from tests.support.kube_objects import meta
from tests.support.waiting import wait_until

pytestmark = pytest.mark.kube

AWS_AUTH_PATH = "/api/v1/namespaces/kube-system/configmaps/aws-auth"
#: Principals the fixture's aws-auth maps, and some it does not, to compare before and after.
FOREIGN_SUBJECTS = [
    NODE_ROLE_ARN,
    ADMIN_USER_ARN,
    "arn:aws:iam::111122223333:role/AWSReservedSSO_PlatformAdmin_0123abcd",
    "arn:aws:iam::444455556666:user/partner",
    "arn:aws:iam::444455556666:role/partner-ops",
]


class WireApiClient(CountingApiClient):
    """The bot's ApiClient, with `before_write(n)` run before its n-th PUT of aws-auth."""

    def __init__(
        self, configuration: client.Configuration, before_write: Callable[[int], None]
    ) -> None:
        super().__init__(configuration)
        self.before_write = before_write

    @property
    def writes(self) -> int:
        return sum(
            1 for method, url in self.calls if method == "PUT" and url.endswith(AWS_AUTH_PATH)
        )

    def call_api(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        if method == "PUT" and url.split("?", 1)[0].endswith(AWS_AUTH_PATH):
            self.before_write(self.writes + 1)
        return super().call_api(method, url, *args, **kwargs)


class Gate:
    """Holds the bot's first aws-auth write on the wire until opened: a slow write, behind
    which every change submitted meanwhile queues."""

    def __init__(self) -> None:
        self.reached = threading.Event()
        self.opened = threading.Event()

    def __call__(self, write: int) -> None:
        if write == 1:
            self.reached.set()
            assert self.opened.wait(30)


def bot_gateway_with(
    kube_env: KubeEnv, before_write: Callable[[int], None]
) -> tuple[KubernetesClusterGateway, WireApiClient]:
    base = kube_env.bot_api_client()
    wire = WireApiClient(base.configuration, before_write)
    return KubernetesClusterGateway(wire), wire


def queued(gateway: KubernetesClusterGateway) -> int:
    mapper = gateway.mapper
    assert isinstance(mapper, AwsAuthMapper)
    return mapper._batches.queued


def _queued_at_least(gateway: KubernetesClusterGateway, count: int) -> bool:
    return queued(gateway) >= count


def ensuring(gateway: KubernetesClusterGateway, people: list[Principal]) -> list[Callable[[], Any]]:
    return [partial(gateway.ensure_mapping, Identity(p)) for p in people]


def in_threads(
    calls: Sequence[Callable[[], Any]], *, in_order_on: KubernetesClusterGateway | None = None
) -> list[Any]:
    """Each call in a thread of its own; what each returned or raised, in order. With
    `in_order_on`, each thread starts once the one before has queued its change there."""
    results: list[Any] = [None] * len(calls)

    def run(n: int) -> None:
        try:
            results[n] = calls[n]()
        except Exception as e:
            results[n] = e

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(calls))]
    for n, t in enumerate(threads):
        t.start()
        if in_order_on is not None:
            wait_until(partial(_queued_at_least, in_order_on, n + 1), 10, f"change {n} is queued")
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    return results


def held_batch(
    kube_env: KubeEnv,
    calls_on: Callable[[KubernetesClusterGateway], list[Callable[[], Any]]],
    *,
    in_order: bool = False,
) -> tuple[MappedIdentity, list[Any], WireApiClient]:
    """A first mapping whose write is held at the wire while the calls queue behind it: they
    all go out together in the next write. Returns the first result, theirs, and the wire."""
    gate = Gate()
    gateway, wire = bot_gateway_with(kube_env, gate)
    first: list[MappedIdentity] = []
    opener = Identity(principal("first-in-line", kind="user"))
    leader = threading.Thread(target=lambda: first.append(gateway.ensure_mapping(opener)))
    leader.start()
    assert gate.reached.wait(10)
    calls = calls_on(gateway)
    results: list[Any] = []
    behind = threading.Thread(
        target=lambda: results.extend(in_threads(calls, in_order_on=gateway if in_order else None))
    )
    behind.start()
    wait_until(lambda: queued(gateway) == len(calls), 10, "every change is queued")
    gate.opened.set()
    leader.join(30)
    behind.join(60)
    return first[0], results, wire


def foreign_outcomes(data: dict[str, str]) -> list[model.Outcome]:
    return [model.outcome(data, arn.lower()) for arn in FOREIGN_SUBJECTS]


def assert_foreign_content_untouched(kube_env: KubeEnv, before: dict[str, str]) -> dict[str, str]:
    cm = read_aws_auth(kube_env)
    data = cm.data or {}
    assert data["mapRoles"].startswith(FOREIGN_MAP_ROLES)
    assert data["mapUsers"].startswith(FOREIGN_MAP_USERS)
    assert data["mapAccounts"] == FOREIGN_MAP_ACCOUNTS
    assert cm.binary_data == FOREIGN_AWS_AUTH_BINARY
    assert meta(cm).labels == FOREIGN_AWS_AUTH_LABELS
    assert meta(cm).annotations == FOREIGN_AWS_AUTH_ANNOTATIONS
    assert foreign_outcomes(data) == foreign_outcomes(before)
    return data


def test_changes_queued_behind_a_write_go_out_in_one(
    kube_env: KubeEnv, aws_auth_reset: dict[str, str]
) -> None:
    people = [principal(f"dev-{i:02d}", kind="user") for i in range(30)]
    people += [principal(f"team/ops-{i:02d}") for i in range(10)]  # roles, with an IAM path

    first, results, wire = held_batch(kube_env, lambda gw: ensuring(gw, people))

    assert first.via is MappedVia.AWS_AUTH
    assert results == [MappedIdentity(p.username, MappedVia.AWS_AUTH) for p in people]
    assert wire.writes == 2
    data = assert_foreign_content_untouched(kube_env, aws_auth_reset)
    for p in people:
        kind = "mapRoles" if p.kind == "role" else "mapUsers"
        assert model.outcome(data, p.mapping_arn.lower()) == (kind, {(p.username, ())})
    # Signing in, through the authenticator model that follows aws-auth: each person is the
    # bot's username (no RBAC yet, so 403), the admin still who they were.
    for p, session in ((people[0], None), (people[-1], "ops-session")):
        assert forbidden_user(kube_env.api_client_as(p.arn, session)) == p.username
    assert list_pods(kube_env.api_client_as(ADMIN_USER_ARN)) == 200


def test_a_refused_change_fails_only_its_caller(
    kube_env: KubeEnv, aws_auth_reset: dict[str, str]
) -> None:
    core = client.CoreV1Api(kube_env.admin_api_client())
    cm = core.read_namespaced_config_map("aws-auth", "kube-system")
    twin = "arn:aws:iam::111122223333:user/Twin"
    templated = principal("by-hand")
    cm.data = {
        **(cm.data or {}),
        # Two entries the authenticator picks between at random, and one the bot cannot render.
        "mapUsers": FOREIGN_MAP_USERS
        + f"- userarn: {twin}\n  username: twin-a\n"
        + f"- userarn: {twin.lower()}\n  username: twin-b\n",
        "mapRoles": FOREIGN_MAP_ROLES
        + f"- rolearn: {templated.arn}\n  username: by-hand:{{{{SessionName}}}}\n",
    }
    before = dict(core.replace_namespaced_config_map("aws-auth", "kube-system", cm).data or {})
    good = [principal(f"good-{i}", kind="user") for i in range(6)]
    bad = [Principal.parse(twin), templated]

    _, results, wire = held_batch(
        kube_env,
        lambda gw: ensuring(gw, [*good[:3], *bad, *good[3:]]),
    )

    assert results[:3] + results[5:] == [
        MappedIdentity(p.username, MappedVia.AWS_AUTH) for p in good
    ]
    assert isinstance(results[3], AwsAuthAmbiguous)
    assert isinstance(results[4], PermanentError) and "needs the session name" in str(results[4])
    assert wire.writes == 2
    data = read_aws_auth(kube_env).data or {}
    assert data["mapUsers"].startswith(before["mapUsers"])
    assert data["mapRoles"] == before["mapRoles"]
    for arn in [*FOREIGN_SUBJECTS, twin, templated.arn]:
        assert model.outcome(data, arn.lower()) == model.outcome(before, arn.lower()), arn


@pytest.mark.parametrize("order", ["remove, then add", "add, then remove"])
def test_an_add_and_a_remove_of_one_principal_queued_together_apply_in_order(
    kube_env: KubeEnv, aws_auth_reset: dict[str, str], order: str
) -> None:
    carol = principal("carol", kind="user")
    if order == "remove, then add":
        with kube_env.bot_api_client() as api:
            KubernetesClusterGateway(api).ensure_mapping(Identity(carol))

    def calls(gw: KubernetesClusterGateway) -> list[Callable[[], Any]]:
        add = lambda: gw.ensure_mapping(Identity(carol))  # noqa: E731
        remove = lambda: gw.remove_mapping(carol)  # noqa: E731
        return [remove, add] if order == "remove, then add" else [add, remove]

    _, results, wire = held_batch(kube_env, calls, in_order=True)

    mapped = MappedIdentity(carol.username, MappedVia.AWS_AUTH)
    assert results == ([None, mapped] if order == "remove, then add" else [mapped, None])
    # The first in line, then both changes in one write; an add undone in the same batch
    # leaves aws-auth as it was, so there is nothing to write.
    assert wire.writes == (2 if order == "remove, then add" else 1)
    data = read_aws_auth(kube_env).data or {}
    expected = (
        ("mapUsers", {(carol.username, ())}) if order == "remove, then add" else (None, frozenset())
    )
    assert model.outcome(data, carol.arn.lower()) == expected


def test_another_writer_between_the_batchs_read_and_write_is_retried(
    kube_env: KubeEnv, aws_auth_reset: dict[str, str]
) -> None:
    """The batch's write meets a 409 (a person edited aws-auth after the bot read it); the
    whole batch is redone on the fresh aws-auth, and the person's entry stays."""
    gate = Gate()
    person = "- userarn: arn:aws:iam::111122223333:user/by-hand\n  username: by-hand\n"

    def before_write(n: int) -> None:
        gate(n)
        if n == 2:  # the batch's first try: someone else writes first
            core = client.CoreV1Api(kube_env.admin_api_client())
            cm = core.read_namespaced_config_map("aws-auth", "kube-system")
            cm.data = {**(cm.data or {}), "mapUsers": (cm.data or {})["mapUsers"] + person}
            core.replace_namespaced_config_map("aws-auth", "kube-system", cm)

    gateway, wire = bot_gateway_with(kube_env, before_write)
    people = [principal(f"dev-{i:02d}", kind="user") for i in range(12)]
    leader = threading.Thread(target=gateway.ensure_mapping, args=(Identity(principal("lead")),))
    leader.start()
    assert gate.reached.wait(10)
    calls = ensuring(gateway, people)
    results: list[Any] = []
    behind = threading.Thread(target=lambda: results.extend(in_threads(calls)))
    behind.start()
    wait_until(lambda: queued(gateway) == len(people), 10, "every change is queued")
    gate.opened.set()
    leader.join(30)
    behind.join(60)

    assert results == [MappedIdentity(p.username, MappedVia.AWS_AUTH) for p in people]
    assert wire.writes == 3  # the first in line, the batch's 409, the batch again
    data = read_aws_auth(kube_env).data or {}
    assert model.outcome(data, "arn:aws:iam::111122223333:user/by-hand") == (
        "mapUsers",
        {("by-hand", ())},
    )
    assert person in data["mapUsers"]
    assert foreign_outcomes(data) == foreign_outcomes(aws_auth_reset)


def test_a_storm_of_mappings_and_removals_costs_a_few_writes(
    kube_env: KubeEnv, aws_auth_reset: dict[str, str]
) -> None:
    """Unstaged: 60 threads at once through one gateway, then all removed at once."""
    gateway, wire = bot_gateway_with(kube_env, lambda n: None)
    people = [principal(f"storm-{i:02d}", kind="user") for i in range(60)]
    barrier = threading.Barrier(len(people))

    def at_once(action: Callable[[Principal], Any]) -> list[Callable[[], Any]]:
        def call(p: Principal) -> Any:
            barrier.wait(10)
            return action(p)

        return [partial(call, p) for p in people]

    mapped = in_threads(at_once(lambda p: gateway.ensure_mapping(Identity(p))))
    writes_to_map = wire.writes
    removed = in_threads(at_once(gateway.remove_mapping))

    assert mapped == [MappedIdentity(p.username, MappedVia.AWS_AUTH) for p in people]
    assert removed == [None] * len(people)
    assert writes_to_map <= 10, writes_to_map
    assert wire.writes - writes_to_map <= 10, wire.writes
    assert read_aws_auth(kube_env).data == aws_auth_reset
