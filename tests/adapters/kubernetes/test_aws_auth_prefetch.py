"""What an aws-auth write starts from, on a real apiserver: the read an approval started while
its decision was written, or the apiserver's answer to this process's last write.

`prepare_mapping` only reads; a write still sends the resourceVersion it started from, so a
known state that has gone stale costs a 409 and a fresh read, never a lost change. Calls are
counted at the wire.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future

import pytest
from kubernetes import client

from bot.adapters.kubernetes import aws_auth_mapper
from bot.adapters.kubernetes.aws_auth_mapper import AwsAuthMapper
from bot.adapters.kubernetes.aws_auth_store import PREFETCH_FRESH, AwsAuthStore
from bot.adapters.kubernetes.gateway import KubernetesClusterGateway
from bot.domain.grants import MappedIdentity, MappedVia
from bot.domain.principals import Identity, Principal
from tests.adapters.kubernetes.conftest import CountingApiClient, principal, read_aws_auth
from tests.adapters.kubernetes.test_aws_auth_batching import (
    AWS_AUTH_PATH,
    Gate,
    WireApiClient,
    assert_foreign_content_untouched,
)
from tests.support import aws_auth_model as model
from tests.support.kube import KubeEnv
from tests.support.waiting import wait_until

pytestmark = pytest.mark.kube


def aws_auth_calls(wire: CountingApiClient) -> list[str]:
    return [method for method, url in wire.calls if url.endswith(AWS_AUTH_PATH)]


def read_started(gateway: KubernetesClusterGateway) -> Future[client.V1ConfigMap | None] | None:
    """The read `prepare_mapping` started and no write has taken yet."""
    started = store_of(gateway)._prefetched
    return None if started is None else started[1]


def read_done(gateway: KubernetesClusterGateway) -> bool:
    """Whether the read `prepare_mapping` started has its answer."""
    read = read_started(gateway)
    return read is not None and read.done()


def append_map_users(kube_env: KubeEnv, entry: str) -> None:
    """Someone else adds `entry` to mapUsers (as the admin, with a read-modify-write)."""
    cm = read_aws_auth(kube_env)
    cm.data = {**(cm.data or {}), "mapUsers": (cm.data or {})["mapUsers"] + entry}
    client.CoreV1Api(kube_env.admin_api_client()).replace_namespaced_config_map(
        "aws-auth", "kube-system", cm
    )


def read_ahead(
    kube_env: KubeEnv, name: str
) -> tuple[KubernetesClusterGateway, WireApiClient, Principal]:
    """A gateway told an approval of IAM user `name` is being written, once that read is in."""
    wire = WireApiClient(kube_env.bot_api_client().configuration, lambda _write: None)
    gateway, who = KubernetesClusterGateway(wire), principal(name, kind="user")
    gateway.prepare_mapping(Identity(who))
    wait_until(lambda: read_done(gateway), 10, "the read is answered")
    return gateway, wire, who


def test_the_read_started_by_prepare_mapping_serves_the_write(
    kube_env: KubeEnv, aws_auth_reset: dict[str, str]
) -> None:
    gateway, wire, who = read_ahead(kube_env, "prefetched")
    assert aws_auth_calls(wire) == ["GET"]
    assert read_aws_auth(kube_env).data == aws_auth_reset, "a read changes nothing"

    assert gateway.ensure_mapping(Identity(who)) == MappedIdentity(who.username, MappedVia.AWS_AUTH)
    assert aws_auth_calls(wire) == ["GET", "PUT"], "no second read"
    data = assert_foreign_content_untouched(kube_env, aws_auth_reset)
    assert model.outcome(data, who.mapping_arn.lower()) == ("mapUsers", {(who.username, ())})


def test_a_read_gone_stale_loses_no_one_elses_change(
    kube_env: KubeEnv, aws_auth_reset: dict[str, str]
) -> None:
    """Someone edits aws-auth between the read and the write: 409, a fresh read, both kept."""
    gateway, wire, who = read_ahead(kube_env, "stale-read")
    theirs = "- userarn: arn:aws:iam::111122223333:user/meanwhile\n  username: meanwhile\n"
    append_map_users(kube_env, theirs)

    gateway.ensure_mapping(Identity(who))
    assert aws_auth_calls(wire) == ["GET", "PUT", "GET", "PUT"], "the stale write was refused"
    data = read_aws_auth(kube_env).data or {}
    assert theirs in data["mapUsers"]
    assert model.outcome(data, "arn:aws:iam::111122223333:user/meanwhile") == (
        "mapUsers",
        {("meanwhile", ())},
    )
    assert model.outcome(data, who.mapping_arn.lower()) == ("mapUsers", {(who.username, ())})


def test_no_read_is_started_while_the_bot_is_writing(
    kube_env: KubeEnv, aws_auth_reset: dict[str, str]
) -> None:
    """A read that went out while the bot writes aws-auth would predate that write and only
    buy a 409: none is started, and the next write starts from the first one's answer."""
    gate = Gate()
    wire = WireApiClient(kube_env.bot_api_client().configuration, gate)
    gateway = KubernetesClusterGateway(wire)
    first, second = principal("writing-now", kind="user"), principal("next-one", kind="user")
    writer = threading.Thread(target=gateway.ensure_mapping, args=(Identity(first),))
    writer.start()
    assert gate.reached.wait(10)  # the first write is on the wire, not yet sent
    gateway.prepare_mapping(Identity(second))
    assert read_started(gateway) is None
    gate.opened.set()
    writer.join(30)

    gateway.ensure_mapping(Identity(second))
    assert aws_auth_calls(wire) == ["GET", "PUT", "PUT"], "no read, no 409"
    data = read_aws_auth(kube_env).data or {}
    for who in (first, second):
        assert model.outcome(data, who.mapping_arn.lower()) == ("mapUsers", {(who.username, ())})


def mapped(gateway: KubernetesClusterGateway, name: str) -> Principal:
    who = principal(name, kind="user")
    assert gateway.ensure_mapping(Identity(who)) == MappedIdentity(who.username, MappedVia.AWS_AUTH)
    return who


def store_of(gateway: KubernetesClusterGateway) -> AwsAuthStore:
    mapper = gateway.mapper
    assert isinstance(mapper, AwsAuthMapper)
    return mapper._store


def test_writes_one_after_another_start_from_the_last_answer_until_it_is_old(
    kube_env: KubeEnv, aws_auth_reset: dict[str, str]
) -> None:
    wire = WireApiClient(kube_env.bot_api_client().configuration, lambda _write: None)
    gateway = KubernetesClusterGateway(wire)
    first, second = mapped(gateway, "one"), mapped(gateway, "after-one")
    assert aws_auth_calls(wire) == ["GET", "PUT", "PUT"]
    store_of(gateway)._written_at -= PREFETCH_FRESH + 1  # that answer is old now
    third = mapped(gateway, "much-later")
    assert aws_auth_calls(wire)[3:] == ["GET", "PUT"]
    data = assert_foreign_content_untouched(kube_env, aws_auth_reset)
    for who in (first, second, third):
        assert model.outcome(data, who.mapping_arn.lower()) == ("mapUsers", {(who.username, ())})


def test_a_write_from_the_last_answer_loses_no_change_made_since(
    kube_env: KubeEnv, aws_auth_reset: dict[str, str]
) -> None:
    wire = WireApiClient(kube_env.bot_api_client().configuration, lambda _write: None)
    gateway = KubernetesClusterGateway(wire)
    first = mapped(gateway, "before-theirs")
    theirs = "- userarn: arn:aws:iam::111122223333:user/theirs\n  username: theirs\n"
    append_map_users(kube_env, theirs)
    second = mapped(gateway, "after-theirs")
    assert aws_auth_calls(wire) == ["GET", "PUT", "PUT", "GET", "PUT"], "409, then a read"
    data = read_aws_auth(kube_env).data or {}
    assert theirs in data["mapUsers"]
    for who in (first, second):
        assert model.outcome(data, who.mapping_arn.lower()) == ("mapUsers", {(who.username, ())})


def test_nothing_to_change_by_the_last_answer_is_made_sure_of_on_a_read(
    kube_env: KubeEnv, aws_auth_reset: dict[str, str]
) -> None:
    """By the bot's last write the principal is mapped already; someone has removed that
    entry since. The answer "mapped" is given on a read, which finds it gone and maps it."""
    wire = WireApiClient(kube_env.bot_api_client().configuration, lambda _write: None)
    gateway = KubernetesClusterGateway(wire)
    who = mapped(gateway, "removed-meanwhile")
    cm = read_aws_auth(kube_env)
    cm.data = {**(cm.data or {}), "mapUsers": aws_auth_reset["mapUsers"]}
    client.CoreV1Api(kube_env.admin_api_client()).replace_namespaced_config_map(
        "aws-auth", "kube-system", cm
    )
    mapped(gateway, "removed-meanwhile")
    assert aws_auth_calls(wire) == ["GET", "PUT", "GET", "PUT"]
    data = assert_foreign_content_untouched(kube_env, aws_auth_reset)
    assert model.outcome(data, who.mapping_arn.lower()) == ("mapUsers", {(who.username, ())})


def test_approvals_decided_together_go_out_in_one_write(
    kube_env: KubeEnv, aws_auth_reset: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two votes are being written at once: the first activation's write waits for the
    second change it was told of, and one PUT maps both."""
    monkeypatch.setattr(aws_auth_mapper, "FILL_WAIT", 30.0)
    wire = WireApiClient(kube_env.bot_api_client().configuration, lambda _write: None)
    gateway = KubernetesClusterGateway(wire)
    first, second = principal("together-1", kind="user"), principal("together-2", kind="user")
    for who in (first, second):
        gateway.prepare_mapping(Identity(who))
    writer = threading.Thread(target=gateway.ensure_mapping, args=(Identity(first),))
    writer.start()
    mapper = gateway.mapper
    assert isinstance(mapper, aws_auth_mapper.AwsAuthMapper)
    wait_until(lambda: mapper._batches.queued == 1, 10, "the first write waits for the second")
    gateway.ensure_mapping(Identity(second))
    writer.join(10)
    assert aws_auth_calls(wire)[-1:] == ["PUT"] and aws_auth_calls(wire).count("PUT") == 1
    data = assert_foreign_content_untouched(kube_env, aws_auth_reset)
    for who in (first, second):
        assert model.outcome(data, who.mapping_arn.lower()) == ("mapUsers", {(who.username, ())})


def test_the_edit_computed_ahead_sees_what_was_read_and_cannot_break_the_write(
    kube_env: KubeEnv, aws_auth_reset: dict[str, str]
) -> None:
    wire = WireApiClient(kube_env.bot_api_client().configuration, lambda _write: None)
    gateway = KubernetesClusterGateway(wire)
    store = store_of(gateway)
    seen: list[dict[str, str]] = []

    def warm(data: dict[str, str]) -> None:
        seen.append(data)
        raise ValueError("an edit that fails ahead")

    store.prefetch(warm)
    wait_until(lambda: read_done(gateway), 10, "the read is answered")
    assert seen == [aws_auth_reset]
    who = mapped(gateway, "after-a-failed-warm-up")
    assert aws_auth_calls(wire) == ["GET", "PUT"], "the read still serves the write"
    data = assert_foreign_content_untouched(kube_env, aws_auth_reset)
    assert model.outcome(data, who.mapping_arn.lower()) == ("mapUsers", {(who.username, ())})
