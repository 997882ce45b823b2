"""An approval's aws-auth read, started while its decision is written, on a real apiserver.

`prepare_mapping` only reads; the write that follows still sends the resourceVersion it read,
so a read that has gone stale costs a 409 and a fresh read, never a lost change. Calls are
counted at the wire.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future

import pytest
from kubernetes import client

from bot.adapters.kubernetes.aws_auth_mapper import AwsAuthMapper
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
    mapper = gateway.mapper
    assert isinstance(mapper, AwsAuthMapper)
    started = mapper._store._prefetched
    return None if started is None else started[1]


def read_done(gateway: KubernetesClusterGateway) -> bool:
    """Whether the read `prepare_mapping` started has its answer."""
    read = read_started(gateway)
    return read is not None and read.done()


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
    cm = read_aws_auth(kube_env)
    theirs = "- userarn: arn:aws:iam::111122223333:user/meanwhile\n  username: meanwhile\n"
    cm.data = {**(cm.data or {}), "mapUsers": (cm.data or {})["mapUsers"] + theirs}
    client.CoreV1Api(kube_env.admin_api_client()).replace_namespaced_config_map(
        "aws-auth", "kube-system", cm
    )

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
    buy a 409: none is started, and the next write reads afresh."""
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
    assert aws_auth_calls(wire) == ["GET", "PUT", "GET", "PUT"], "a fresh read, no 409"
    data = read_aws_auth(kube_env).data or {}
    for who in (first, second):
        assert model.outcome(data, who.mapping_arn.lower()) == ("mapUsers", {(who.username, ())})
