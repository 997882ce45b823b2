"""When aws-auth maps a principal, from a watch (rows 2 and 4).

A SubjectAccessReview proves authorization only: it allows a username as soon as its
RoleBinding exists. A grant is effective when the requester can also authenticate, i.e. when
aws-auth maps their ARN to that username. The bot makes the RoleBinding while it writes
aws-auth, so "allowed" in these rows is the later of the two: the SAR allowing, and the
first version of aws-auth (as received from a watch) that maps the ARN to the username, read
by the independent model of the authenticator in `tests/support/aws_auth_model.py`.
"""

from __future__ import annotations

import threading
import time

from kubernetes import client, watch

from bot.adapters.kubernetes.aws_auth_store import NAME, NAMESPACE
from bot.adapters.kubernetes.connection import api_client_from_kubeconfig
from tests.support import aws_auth_model as model


class AwsAuthWatch:
    """Every version of aws-auth written while it runs, with its receipt time
    (`time.perf_counter()`), and how many writes there were."""

    def __init__(self, kubeconfig: str, seconds: float) -> None:
        self.api = api_client_from_kubeconfig(kubeconfig)
        self.core = client.CoreV1Api(self.api)
        self.seconds = int(seconds)
        self.error: str | None = None
        self._stop = threading.Event()
        cm = self.core.read_namespaced_config_map(NAME, NAMESPACE)
        assert cm.metadata is not None
        self._version = cm.metadata.resource_version
        #: (receipt time, data) of each version; the first is the one read at the start.
        self.versions: list[tuple[float, dict[str, str]]] = [
            (time.perf_counter(), dict(cm.data or {}))
        ]
        self._thread = threading.Thread(target=self._run, name="aws-auth-watch", daemon=True)
        self._thread.start()

    @property
    def count(self) -> int:
        """Writes of aws-auth seen (one MODIFIED event each)."""
        return len(self.versions) - 1

    def _run(self) -> None:
        w = watch.Watch()
        try:
            for event in w.stream(
                self.core.list_namespaced_config_map,
                NAMESPACE,
                field_selector=f"metadata.name={NAME}",
                resource_version=self._version,
                timeout_seconds=self.seconds,
                _request_timeout=self.seconds + 30,
            ):
                if event["type"] == "MODIFIED":
                    self.versions.append((time.perf_counter(), dict(event["object"].data or {})))
                if self._stop.is_set():
                    break
        except Exception as e:  # reported, not fatal
            if not self._stop.is_set():
                self.error = f"aws-auth watch ended early: {type(e).__name__}: {e}"
        finally:
            w.stop()

    def mapped_at(self, arn: str, username: str, timeout: float = 2.0) -> float | None:
        """When aws-auth first mapped `arn` to `username` (the start, if it did already),
        waiting up to `timeout` s for a version that does; None if none does."""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            versions = self.versions[seen:]
            for at, data in versions:
                _, found = model.outcome(data, arn.lower())
                if any(name == username for name, _ in found):
                    return at
            seen += len(versions)
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.01)

    def close(self) -> None:
        self._stop.set()
        self.api.close()
        self._thread.join(timeout=5)
