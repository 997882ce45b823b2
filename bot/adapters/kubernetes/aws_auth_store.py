"""Read-modify-write of `kube-system/aws-auth` that never loses another writer's change.

ConfigMaps accept unconditional updates (no resourceVersion precondition), and eksctl, Terraform and humans edit
aws-auth too. Every write therefore sends the resourceVersion it read, so a concurrent change
turns into a 409 instead of being overwritten; on 409 the edit is recomputed from a fresh read.
The edit itself is the pure `bot.domain.aws_auth` editor, whose functions check every result
with `verify_safe_edit` before returning it; this module only does the I/O.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from kubernetes import client

from bot.adapters.kubernetes.direct import CONFIG_MAPS, DirectCalls
from bot.adapters.kubernetes.errors import KUBE_ERRORS, absent_if_404, api_error, is_status
from bot.adapters.kubernetes.retry import ConflictBackoff
from bot.domain.errors import PermanentError, TransientError

NAMESPACE = "kube-system"
NAME = "aws-auth"
OBJECT = f"ConfigMap {NAMESPACE}/{NAME}"

log = logging.getLogger(__name__)

Edit = Callable[[dict[str, str]], dict[str, str]]

#: A read started by `prefetch`, or this process's own last write, serves an update taken at
#: most this many seconds later.
PREFETCH_FRESH = 2.0


class AwsAuthMissing(PermanentError):
    """There is no aws-auth, and the bot may not create one."""


# One writer per cluster inside this process. The bot's own threads (activation, expiry,
# reconcile) would otherwise race each other for the same object and burn the conflict
# retries meant for outside writers; those, and other replicas, are still handled by 409s.
_WRITERS: dict[str, threading.Lock] = {}
_WRITERS_GUARD = threading.Lock()


def _writer_lock(api_client: client.ApiClient) -> threading.Lock:
    with _WRITERS_GUARD:
        return _WRITERS.setdefault(str(api_client.configuration.host), threading.Lock())


class AwsAuthStore:
    """The aws-auth ConfigMap of one cluster.

    `create_if_missing`: whether `update(..., create=True)` may create the ConfigMap. Off by
    default: `create` on configmaps cannot be limited to one name, so the bot's RBAC does not
    hold it, and a missing aws-auth in a real cluster means something is wrong (EKS creates it
    with the first node group) - better a clear error than a second, node-less aws-auth.
    """

    def __init__(
        self,
        api_client: client.ApiClient,
        *,
        backoff: ConflictBackoff | None = None,
        create_if_missing: bool = False,
        request_timeout: float | tuple[float, float] = (5.0, 30.0),
    ) -> None:
        self._calls = DirectCalls(api_client, request_timeout)
        self._writer = _writer_lock(api_client)
        self._backoff = backoff or ConflictBackoff()
        self._create_if_missing = create_if_missing
        self._timeout = request_timeout
        self._reader: ThreadPoolExecutor | None = None
        #: (monotonic time it started, the read) of the read `prefetch` started, until taken.
        self._prefetched: tuple[float, Future[client.V1ConfigMap | None]] | None = None
        self._prefetch_lock = threading.Lock()
        #: When this process last finished writing aws-auth (monotonic seconds).
        self._written_at = 0.0
        #: The ConfigMap as the apiserver answered this process's last write, until taken.
        self._written: client.V1ConfigMap | None = None

    def prefetch(self, warm: Callable[[dict[str, str]], object] | None = None) -> None:
        """Start reading the ConfigMap for an `update` that follows shortly.

        An approval's activation edits aws-auth right after its decision is written; the read
        runs meanwhile instead of after it. Safe at any age: a write always sends the
        resourceVersion it read, so a change made since turns into a 409 and a fresh read.
        One read serves however many approvals ask for it while it runs; none is started
        while this process is writing aws-auth (it would predate that write: see
        `_known_or_read`).

        `warm`, if given, is then called with the data read, on the reading thread, and its
        result dropped: the caller's likely edit, computed while the decision is still being
        written, leaves its parses in the editor's caches for the write to find. It may
        fail; the write computes its own edit either way.
        """
        if self._writer.locked():
            return
        with self._prefetch_lock:
            if self._prefetched is not None and not self._prefetched[1].done():
                return
            if self._reader is None:
                self._reader = ThreadPoolExecutor(1, thread_name_prefix="aws-auth-read")
            # in the caller's context: its log lines name the approval's grant and actor
            read = self._reader.submit(contextvars.copy_context().run, self._read_ahead, warm)
            self._prefetched = (time.monotonic(), read)

    def _read_ahead(
        self, warm: Callable[[dict[str, str]], object] | None
    ) -> client.V1ConfigMap | None:
        cm = self._get()
        if warm is not None and cm is not None:
            try:
                warm(dict(cm.data or {}))
            except Exception:  # the write computes the same edit, and reports what is wrong
                log.debug("computing an aws-auth edit ahead failed", exc_info=True)
        return cm

    def read(self) -> dict[str, str] | None:
        """The ConfigMap's `data`, or None when there is no aws-auth."""
        cm = self._get()
        return None if cm is None else dict(cm.data or {})

    def update(self, edit: Edit, *, create: bool) -> dict[str, str] | None:
        """Apply `edit` to the current data, write the result if it differs, and return it.

        `create`: whether a missing ConfigMap should be created (adding an entry) or is
        simply nothing to do (removing one; returns None). `edit` runs again on fresh data
        after every conflict, so it must be pure. When it raises (`AwsAuthUnreadable`, ...)
        nothing is written. The data may be what this process read or wrote moments ago
        (`_known_or_read`): the write's resourceVersion makes that as safe as a read, and an
        edit that finds nothing to change there is redone on a read.
        """
        with self._writer:
            return self._update(edit, create=create)

    def _update(self, edit: Edit, *, create: bool) -> dict[str, str] | None:
        backoff = self._backoff
        cm, read_now = self._known_or_read()
        conflicts = 0
        while True:
            if cm is None:
                if not read_now:  # only known to be missing: make sure first
                    cm, read_now = self._get(), True
                    continue
                if not create:
                    return None
                after = edit({})
                if self._create(after):
                    self._wrote(None)
                    return after
            else:
                before = dict(cm.data or {})
                after = edit(before)
                if after == before:
                    if read_now:
                        return before
                    # Nothing to write by what this process knew: an answer that relies on
                    # it is given on what the apiserver says now.
                    cm, read_now = self._get(), True
                    continue
                written = self._replace(cm, after)
                if written is not None:
                    self._wrote(written)
                    return after
            if not read_now:  # changed since this process knew it: read, no need to wait
                cm, read_now = self._get(), True
                continue
            conflicts += 1
            if conflicts >= backoff.attempts:
                raise TransientError(
                    f"Could not update {OBJECT}: it was changed by someone else "
                    f"{backoff.attempts} times in a row; will try again later"
                )
            backoff.wait(conflicts - 1)
            cm, read_now = self._get(), True

    def _wrote(self, answer: client.V1ConfigMap | None) -> None:
        self._written_at = time.monotonic()
        self._written = answer

    def _known_or_read(self) -> tuple[client.V1ConfigMap | None, bool]:
        """The freshest recent ConfigMap this process knows without asking, else a read now;
        and whether it was read now.

        That is the prefetched one if its read started after this process last wrote, else
        the apiserver's answer to that write: when approvals land one after another, each
        write starts from the one before instead of reading it back. Either is taken once and
        only when recent; if someone else wrote meanwhile, the write's resourceVersion turns
        that into a 409 and `_update` reads afresh.
        """
        with self._prefetch_lock:
            found, self._prefetched = self._prefetched, None
        written, self._written = self._written, None
        recent = time.monotonic() - PREFETCH_FRESH
        if found is not None:
            started, read = found
            if self._written_at <= started and started >= recent:
                try:
                    return read.result(timeout=PREFETCH_FRESH), False
                except Exception:  # the read below meets the same fault and reports it
                    pass
        if written is not None and self._written_at >= recent:
            return written, False
        return self._get(), True

    # -- one API call each; False or None means "lost a race, re-read and try again" --------

    def _get(self) -> client.V1ConfigMap | None:
        return absent_if_404(
            lambda: self._calls.read(CONFIG_MAPS, NAMESPACE, NAME, "V1ConfigMap"),
            f"read {OBJECT}",
        )

    def _create(self, data: dict[str, str]) -> bool:
        if not self._create_if_missing:
            raise AwsAuthMissing(
                f"{OBJECT} does not exist, so no IAM principal can be mapped. EKS creates it "
                "with the first node group; create it (keeping the node role entries) and retry."
            )
        body = client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name=NAME, namespace=NAMESPACE), data=data
        )
        try:
            self._calls.create(CONFIG_MAPS, NAMESPACE, body, None)
        except KUBE_ERRORS as exc:
            if is_status(exc, 409):  # created meanwhile by someone else
                return False
            raise api_error(exc, f"create {OBJECT}") from exc
        return True

    def _replace(self, cm: client.V1ConfigMap, data: dict[str, str]) -> client.V1ConfigMap | None:
        """The ConfigMap as written, or None when it changed or went away since it was read."""
        # The fetched object goes back whole: binaryData, labels, annotations and, above all,
        # metadata.resourceVersion, which makes the apiserver refuse a write based on a stale read.
        cm.data = data
        try:
            written: client.V1ConfigMap = self._calls.replace(
                CONFIG_MAPS, NAMESPACE, NAME, cm, "V1ConfigMap"
            )
        except KUBE_ERRORS as exc:
            if is_status(exc, 409) or is_status(exc, 404):  # changed or deleted since read
                return None
            raise api_error(exc, f"update {OBJECT}") from exc
        return written
