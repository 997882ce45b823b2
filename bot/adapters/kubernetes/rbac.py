"""The Kubernetes objects of a grant: a shared per-profile Role and the grant's own RoleBinding.

The objects are the ones `bot.domain.manifests` describes (and `eks-access plan` shows). Only
objects carrying the bot's managed-by label are ever changed or deleted; a foreign object under
one of the bot's names is reported, not taken over. Every operation is idempotent, so
activation, revoke and reconcile can repeat it after a crash or a timeout.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from kubernetes import client

from bot.adapters.kubernetes.direct import ROLE_BINDINGS, ROLES, DirectCalls
from bot.adapters.kubernetes.errors import (
    KUBE_ERRORS,
    absent_if_404,
    api_error,
    is_status,
    status_reason,
)
from bot.adapters.kubernetes.inventory import owned_binding_ids
from bot.adapters.kubernetes.rbac_objects import (
    RbacObject,
    annotations_of,
    is_owned,
    key_of,
    labels_of,
    meta_of,
    name_of,
    role_ref_key,
    rules_key,
    subjects_key,
)
from bot.adapters.kubernetes.retry import ConflictBackoff
from bot.domain.errors import PermanentError, TransientError
from bot.domain.manifests import role_binding_manifest, role_manifest
from bot.domain.rbac import (
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    RbacGrant,
    binding_name,
)

#: Seconds a profile Role found as it should be is not read again before the next grant of
#: that profile: a burst of approvals reads it once, not once each. A Role someone deleted
#: is put back by the first grant after that; reconcile puts back what its grants need.
ROLE_FRESH_FOR = 10.0


class RbacStore:
    def __init__(
        self,
        api_client: client.ApiClient,
        *,
        backoff: ConflictBackoff | None = None,
        request_timeout: float | tuple[float, float] = (5.0, 30.0),
        role_fresh_for: float = ROLE_FRESH_FOR,
    ) -> None:
        self._calls = DirectCalls(api_client, request_timeout)
        self._role_fresh_for = role_fresh_for
        #: (namespace, name) -> (the manifest found in place, when: monotonic seconds)
        self._roles_seen: dict[tuple[str, str], tuple[str, float]] = {}
        self._roles_lock = threading.Lock()
        self._backoff = backoff or ConflictBackoff()

    # -- the grant's objects ----------------------------------------------------------------

    def ensure_rbac(self, rbac: RbacGrant) -> None:
        """Create or update the profile's Role (unless a ClusterRole is referenced) and the
        grant's RoleBinding.

        The Role goes first, always: the apiserver's escalation check on a binding to a Role
        that does not exist yet passes trivially (no rules to escalate), so a binding created
        first would not be limited by the bot's `bind` permission.
        """
        role = role_manifest(rbac)
        if role is not None and not self._role_is_fresh(role):
            where = (role["metadata"]["namespace"], role["metadata"]["name"])
            with self._roles_lock:
                self._roles_seen.pop(where, None)  # until this check succeeds
            self._ensure_role(client.V1Role.model_validate(role))
            with self._roles_lock:
                self._roles_seen[where] = (key_of(role), time.monotonic())
        self._ensure_binding(role_binding_manifest(rbac))

    def _role_is_fresh(self, role: dict[str, Any]) -> bool:
        """Whether this very Role was found (or made) as it should be moments ago."""
        meta = role["metadata"]
        with self._roles_lock:
            seen = self._roles_seen.get((meta["namespace"], meta["name"]))
        return (
            seen is not None
            and seen[0] == key_of(role)
            and time.monotonic() - seen[1] < self._role_fresh_for
        )

    def delete_rbac(self, grant_id: str, namespace: str) -> None:
        """Delete the grant's RoleBinding; one that is already gone counts as deleted.

        The shared Role stays: other grants of the profile may use it, and it grants nothing
        without a binding.
        """
        name = binding_name(grant_id)
        what = f"RoleBinding {namespace}/{name}"
        for attempt in range(self._backoff.attempts):
            binding = self._read_binding(namespace, name)
            if binding is None:
                return
            self._require_owned(binding, what)
            if self._delete_binding(binding, what):
                return
            self._backoff.wait(attempt)
        raise self._kept_changing(what)

    def owned_binding_ids(self, namespace: str, page_size: int = 500) -> set[str]:
        """Grant ids of the bot's RoleBindings in `namespace` (see `inventory`)."""
        return owned_binding_ids(self._calls, namespace, page_size)

    # -- Role -------------------------------------------------------------------------------

    def _ensure_role(self, desired: client.V1Role) -> None:
        name, namespace = name_of(desired)
        what = f"Role {namespace}/{name}"
        labels, rules = labels_of(desired), desired.rules or []
        for attempt in range(self._backoff.attempts):
            role = self._read_role(namespace, name) or self._create_empty_role(desired)
            if role is None:  # created by someone else meanwhile: read it
                continue
            self._require_owned(role, what)
            current = labels_of(role)
            if rules_key(role.rules) == rules_key(rules) and labels.items() <= current.items():
                return
            role.rules = rules
            meta_of(role).labels = {**current, **labels}
            try:
                self._calls.replace(ROLES, namespace, name, role, "V1Role")
                return
            except KUBE_ERRORS as exc:
                if not (is_status(exc, 409) or is_status(exc, 404)):
                    raise api_error(exc, f"update {what}") from exc
            self._backoff.wait(attempt)
        raise self._kept_changing(what)

    def _create_empty_role(self, desired: client.V1Role) -> client.V1Role | None:
        """Create the Role without rules; the caller then adds them with an update.

        The apiserver checks `escalate` against the request's object name, and a create
        request has none (it is a POST to the collection). Creating an empty Role needs no
        escalation, and the update that adds the rules names the Role, so the bot's
        `escalate` permission can stay limited to the profile Roles by resourceNames.
        """
        name, namespace = name_of(desired)
        body = client.V1Role(
            metadata=client.V1ObjectMeta(name=name, namespace=namespace, labels=labels_of(desired)),
            rules=[],
        )
        try:
            role: client.V1Role = self._calls.create(ROLES, namespace, body, "V1Role")
        except KUBE_ERRORS as exc:
            if is_status(exc, 409):
                return None
            raise api_error(exc, f"create Role {namespace}/{name}") from exc
        return role

    def _read_role(self, namespace: str, name: str) -> client.V1Role | None:
        return absent_if_404(
            lambda: self._calls.read(ROLES, namespace, name, "V1Role"),
            f"read Role {namespace}/{name}",
        )

    # -- RoleBinding ------------------------------------------------------------------------

    def _ensure_binding(self, manifest: dict[str, Any]) -> None:
        """Create the binding from its manifest (sent as it is: one call, no model on the
        way); only when one exists already is it read and compared."""
        meta = manifest["metadata"]
        name, namespace = str(meta["name"]), str(meta["namespace"])
        what = f"RoleBinding {namespace}/{name}"
        desired: client.V1RoleBinding | None = None
        for attempt in range(self._backoff.attempts):
            try:
                self._calls.create(ROLE_BINDINGS, namespace, manifest, None)
                return
            except KUBE_ERRORS as exc:
                if not (is_status(exc, 409) and status_reason(exc) == "AlreadyExists"):
                    raise api_error(exc, f"create {what}") from exc
            existing = self._read_binding(namespace, name)
            desired = desired or client.V1RoleBinding.model_validate(manifest)
            if existing is not None and self._converge_binding(existing, desired, what):
                return
            self._backoff.wait(attempt)
        raise self._kept_changing(what)

    def _converge_binding(
        self, existing: client.V1RoleBinding, desired: client.V1RoleBinding, what: str
    ) -> bool:
        """Bring an existing binding in line; False means "try creating it again"."""
        self._require_owned(existing, what)
        if role_ref_key(existing.role_ref) != role_ref_key(desired.role_ref):
            # roleRef is immutable: the binding has to be replaced by a new object.
            self._delete_binding(existing, f"{what} to change its role")
            return False
        labels = {**labels_of(existing), **labels_of(desired)}
        annotations = {**annotations_of(existing), **annotations_of(desired)}
        if (
            subjects_key(existing.subjects) == subjects_key(desired.subjects)
            and labels == labels_of(existing)
            and annotations == annotations_of(existing)
        ):
            return True
        existing.subjects = desired.subjects
        meta_of(existing).labels = labels
        meta_of(existing).annotations = annotations
        name, namespace = name_of(existing)
        try:
            self._calls.replace(ROLE_BINDINGS, namespace, name, existing, "V1RoleBinding")
        except KUBE_ERRORS as exc:
            if is_status(exc, 409) or is_status(exc, 404):
                return False
            raise api_error(exc, f"update {what}") from exc
        return True

    def _delete_binding(self, binding: client.V1RoleBinding, what: str) -> bool:
        """Delete exactly the object read; False if it changed since (read it again)."""
        name, namespace = name_of(binding)
        # The precondition keeps us from deleting an object recreated since we read it.
        options = client.V1DeleteOptions(
            preconditions=client.V1Preconditions(resource_version=meta_of(binding).resource_version)
        )
        try:
            self._calls.delete(ROLE_BINDINGS, namespace, name, options)
        except KUBE_ERRORS as exc:
            if is_status(exc, 404):
                return True
            if is_status(exc, 409):
                return False
            raise api_error(exc, f"delete {what}") from exc
        return True

    def _read_binding(self, namespace: str, name: str) -> client.V1RoleBinding | None:
        return absent_if_404(
            lambda: self._calls.read(ROLE_BINDINGS, namespace, name, "V1RoleBinding"),
            f"read RoleBinding {namespace}/{name}",
        )

    # -- shared ----------------------------------------------------------------------------

    @staticmethod
    def _require_owned(obj: RbacObject, what: str) -> None:
        if not is_owned(obj):
            raise PermanentError(
                f"{what} exists but was not created by eks-access (no "
                f"{MANAGED_BY_LABEL}={MANAGED_BY_VALUE} label); it was left untouched. "
                "Rename or remove it, or change the profile, then retry."
            )

    def _kept_changing(self, what: str) -> TransientError:
        return TransientError(
            f"Could not update {what}: it was changed by someone else "
            f"{self._backoff.attempts} times in a row; will try again later"
        )
