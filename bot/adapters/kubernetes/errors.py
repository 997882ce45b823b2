"""Sort Kubernetes client failures into TransientError / PermanentError at the boundary.

Callers catch `KUBE_ERRORS` around one API call and raise `api_error(exc, "<operation>")`;
the message names the operation and object and carries the apiserver's one-line reason,
never a traceback or the response headers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TypeVar

import urllib3
from kubernetes.client import ApiException

from bot.domain.errors import PermanentError, TransientError

#: What one call through the kubernetes client can raise besides our own errors.
KUBE_ERRORS: tuple[type[BaseException], ...] = (ApiException, urllib3.exceptions.HTTPError, OSError)

# 409 is transient only once the caller's own conflict retries are exhausted; callers that
# retry check `status_reason` first and only hand the final 409 here.
T = TypeVar("T")

_TRANSIENT_STATUSES = frozenset({408, 409, 425, 429})
_MESSAGE_LIMIT = 300


def status_reason(exc: BaseException) -> str:
    """The `reason` of the apiserver's Status body ("Conflict", "AlreadyExists", ...) or ""."""
    return str(_status_body(exc).get("reason") or "")


def is_status(exc: BaseException, status: int) -> bool:
    return isinstance(exc, ApiException) and exc.status == status


def absent_if_404(call: Callable[[], T], operation: str) -> T | None:
    """`call()`, or None when the object does not exist; any other failure sorted."""
    try:
        return call()
    except KUBE_ERRORS as exc:
        if is_status(exc, 404):
            return None
        raise api_error(exc, operation) from exc


def api_error(exc: BaseException, operation: str) -> TransientError | PermanentError:
    """The error to raise for `exc`, which happened while trying to `operation`.

    `operation` reads as a verb phrase naming the object, e.g.
    "update ConfigMap kube-system/aws-auth".
    """
    if isinstance(exc, ApiException):
        return _from_api_exception(exc, operation)
    if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
        return _from_connection_error(exc.reason, operation)
    return _from_connection_error(exc, operation)


def _from_api_exception(exc: ApiException, operation: str) -> TransientError | PermanentError:
    status = int(exc.status or 0)
    if status == 0:
        # The 37.x client turns TLS failures into ApiException(status=0, reason="SSLError...").
        return _from_tls_failure(str(exc.reason or ""), operation)
    detail = str(_status_body(exc).get("message") or "").strip() or str(exc.reason or "").strip()
    text = f"Could not {operation}: Kubernetes API answered {status}"
    text += f" ({_shorten(detail)})" if detail else ""
    if status >= 500 or status in _TRANSIENT_STATUSES:
        return TransientError(text)
    return PermanentError(text)


def _from_connection_error(exc: BaseException, operation: str) -> TransientError | PermanentError:
    if isinstance(exc, urllib3.exceptions.SSLError):
        return _from_tls_failure(str(exc), operation)
    # Most specific first: urllib3 derives NameResolutionError from NewConnectionError and
    # that from ConnectTimeoutError.
    if isinstance(exc, urllib3.exceptions.NameResolutionError):
        what = "the Kubernetes API host name does not resolve"
    elif isinstance(exc, urllib3.exceptions.NewConnectionError | ConnectionRefusedError):
        what = "the Kubernetes API is unreachable (connection refused or no route)"
    elif isinstance(exc, urllib3.exceptions.ConnectTimeoutError):
        what = "connecting to the Kubernetes API timed out"
    elif isinstance(exc, urllib3.exceptions.ReadTimeoutError | TimeoutError):
        what = "the Kubernetes API did not answer in time"
    elif isinstance(exc, urllib3.exceptions.ProtocolError | ConnectionError):
        what = "the connection to the Kubernetes API was interrupted"
    else:
        what = f"the Kubernetes API could not be reached ({type(exc).__name__})"
    return TransientError(f"Could not {operation}: {what}")


def _from_tls_failure(detail: str, operation: str) -> TransientError | PermanentError:
    if "CERTIFICATE_VERIFY_FAILED" in detail or "certificate verify failed" in detail:
        # A wrong CA or endpoint will not fix itself by retrying.
        return PermanentError(
            f"Could not {operation}: the Kubernetes API's TLS certificate is not trusted "
            "(check the cluster endpoint and certificate authority)"
        )
    return TransientError(f"Could not {operation}: the TLS connection to the Kubernetes API failed")


def _status_body(exc: BaseException) -> dict[str, object]:
    if not isinstance(exc, ApiException) or not exc.body:
        return {}
    try:
        body = json.loads(exc.body)
    except (TypeError, ValueError):
        return {}
    return body if isinstance(body, dict) else {}


def _shorten(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _MESSAGE_LIMIT else line[: _MESSAGE_LIMIT - 1] + "…"
