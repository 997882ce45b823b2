"""Client failures become TransientError / PermanentError with a sentence, not a traceback."""

from __future__ import annotations

import json
import socket

import pytest
import urllib3
from kubernetes import client

from bot.adapters.kubernetes.errors import api_error
from bot.adapters.kubernetes.gateway import KubernetesClusterGateway
from bot.domain.errors import PermanentError, TransientError
from bot.domain.principals import Identity
from tests.adapters.kubernetes.conftest import pods_read_grant, principal


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # closed again: nothing listens here


def _api_exception(status: int, reason: str, message: str) -> client.ApiException:
    exc = client.ApiException(status=status, reason=reason)
    exc.body = json.dumps({"kind": "Status", "reason": reason, "message": message, "code": status})
    return exc


def test_unreachable_apiserver_is_a_transient_error_with_a_readable_message() -> None:
    cfg = client.Configuration(host=f"https://127.0.0.1:{_closed_port()}")
    with client.ApiClient(cfg) as api_client:
        gateway = KubernetesClusterGateway(api_client)

        with pytest.raises(TransientError) as mapping_error:
            gateway.ensure_mapping(Identity(principal("dev-alice")))
        with pytest.raises(TransientError) as rbac_error:
            gateway.ensure_rbac(pods_read_grant("down2222", principal("dev-alice")))

    assert str(mapping_error.value) == (
        "Could not read ConfigMap kube-system/aws-auth: the Kubernetes API is unreachable "
        "(connection refused or no route)"
    )
    assert str(rbac_error.value).startswith("Could not read Role default/eks-access-pods-read:")
    assert "Traceback" not in str(rbac_error.value)


@pytest.mark.parametrize(
    ("status", "reason", "kind"),
    [
        (500, "InternalError", TransientError),
        (503, "ServiceUnavailable", TransientError),
        (429, "TooManyRequests", TransientError),
        (409, "Conflict", TransientError),
        (400, "BadRequest", PermanentError),
        (401, "Unauthorized", PermanentError),
        (403, "Forbidden", PermanentError),
        (404, "NotFound", PermanentError),
        (422, "Invalid", PermanentError),
    ],
)
def test_status_codes_are_sorted(status: int, reason: str, kind: type[Exception]) -> None:
    error = api_error(
        _api_exception(status, reason, f'configmaps "aws-auth" says {reason}\n  (detail)'),
        "update ConfigMap kube-system/aws-auth",
    )

    assert type(error) is kind
    assert str(error) == (
        f"Could not update ConfigMap kube-system/aws-auth: Kubernetes API answered {status} "
        f'(configmaps "aws-auth" says {reason} (detail))'
    )


def test_37x_subclasses_and_connection_errors_are_sorted() -> None:
    forbidden = client.exceptions.ForbiddenException(status=403, reason="Forbidden")
    pool = urllib3.HTTPSConnectionPool("127.0.0.1", 6443)
    timeout = urllib3.exceptions.MaxRetryError(
        pool, "/api", urllib3.exceptions.ReadTimeoutError(pool, "/api", "read timed out")
    )
    untrusted = client.ApiException(
        status=0, reason="SSLError\n[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"
    )

    assert str(api_error(forbidden, "list RoleBindings in namespace x")) == (
        "Could not list RoleBindings in namespace x: Kubernetes API answered 403 (Forbidden)"
    )
    assert isinstance(api_error(forbidden, "x"), PermanentError)
    assert str(api_error(timeout, "read Role a/b")) == (
        "Could not read Role a/b: the Kubernetes API did not answer in time"
    )
    assert isinstance(api_error(timeout, "x"), TransientError)
    assert isinstance(api_error(untrusted, "x"), PermanentError)
    assert "not trusted" in str(api_error(untrusted, "x"))


def test_long_apiserver_messages_are_cut() -> None:
    error = api_error(_api_exception(422, "Invalid", "x" * 1000), "create Role a/b")

    assert len(str(error)) < 400
    assert str(error).endswith("…)")
