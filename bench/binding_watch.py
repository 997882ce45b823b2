"""When RoleBindings appear and disappear in a namespace, from a watch (rows 2b, 3 and 4)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from kubernetes import client, watch

from bot.adapters.kubernetes.connection import api_client_from_kubeconfig
from bot.domain.rbac import GRANT_ID_LABEL, MANAGED_BY_LABEL, MANAGED_BY_VALUE


class BindingWatch:
    """When each RoleBinding of the bot appears or disappears in a namespace (event receipt
    time), from a watch: far lighter on the apiserver than polling every grant."""

    def __init__(
        self,
        kubeconfig: str,
        namespace: str,
        seconds: float,
        *,
        label_selector: str | None = f"{MANAGED_BY_LABEL}={MANAGED_BY_VALUE}",
        added_clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        """`label_selector`: None watches every binding (a floor's too); `added_clock`
        stamps each ADDED event (deletions are stamped with time.time())."""
        self.api = api_client_from_kubeconfig(kubeconfig)
        self.rbac = client.RbacAuthorizationV1Api(self.api)
        self.namespace = namespace
        self.seconds = int(seconds)
        self.label_selector = label_selector
        self.added_clock = added_clock
        self.added: dict[str, float] = {}  # subject user -> added_clock()
        self.deleted: dict[str, float] = {}  # grant id -> time.time()
        self.error: str | None = None
        self._stop = threading.Event()
        listing = self.rbac.list_namespaced_role_binding(namespace, limit=1)
        self._version = listing.metadata.resource_version
        self._thread = threading.Thread(target=self._run, name="binding-watch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        w = watch.Watch()
        try:
            for event in w.stream(
                self.rbac.list_namespaced_role_binding,
                self.namespace,
                label_selector=self.label_selector,
                resource_version=self._version,
                timeout_seconds=self.seconds,
                _request_timeout=self.seconds + 30,
            ):
                binding = event["object"]
                if event["type"] == "ADDED":
                    for subject in binding.subjects or []:
                        self.added.setdefault(subject.name, self.added_clock())
                elif event["type"] == "DELETED":
                    gid = (binding.metadata.labels or {}).get(GRANT_ID_LABEL)
                    if gid:
                        self.deleted.setdefault(gid, time.time())
                if self._stop.is_set():
                    break
        except Exception as e:  # reported, not fatal
            if not self._stop.is_set():  # closing the client at the end ends the stream too
                self.error = f"watch ended early: {type(e).__name__}: {e}"
        finally:
            w.stop()

    def seen(self, user: str, timeout: float = 2.0) -> float | None:
        """When a binding for `user` was added, waiting up to `timeout` s for the event."""
        deadline = time.monotonic() + timeout
        while user not in self.added and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.added.get(user)

    def close(self) -> None:
        self._stop.set()
        self.api.close()
        self._thread.join(timeout=5)
