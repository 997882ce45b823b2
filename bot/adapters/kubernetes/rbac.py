"""The Kubernetes objects of a grant: a shared per-profile Role and the grant's own RoleBinding.

Only objects carrying the bot's managed-by label are ever changed or deleted; a foreign object
under one of the bot's names is reported, not taken over. Every operation is idempotent, so
activation, revoke and reconcile can repeat it after a crash or a timeout.
"""

from __future__ import annotations

from kubernetes import client

from bot.adapters.kubernetes.errors import KUBE_ERRORS, api_error, is_status, status_reason
from bot.adapters.kubernetes.retry import ConflictBackoff
from bot.domain.errors import PermanentError, TransientError
from bot.domain.rbac import (
    EXPIRES_ANNOTATION,
    GRANT_ID_ANNOTATION,
    GRANT_ID_LABEL,
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    PROFILE_LABEL,
    REQUESTER_ANNOTATION,
    PolicyRule,
    RbacGrant,
    binding_name,
)

RBAC_API_GROUP = "rbac.authorization.k8s.io"
OWNED_SELECTOR = f"{MANAGED_BY_LABEL}={MANAGED_BY_VALUE}"


def is_owned(obj: client.V1Role | client.V1RoleBinding) -> bool:
    return _labels(obj).get(MANAGED_BY_LABEL) == MANAGED_BY_VALUE


def _meta(obj: client.V1Role | client.V1RoleBinding) -> client.V1ObjectMeta:
    # Objects read from the apiserver always have metadata; the models just type it Optional.
    if obj.metadata is None:
        obj.metadata = client.V1ObjectMeta()
    meta: client.V1ObjectMeta = obj.metadata
    return meta


def _labels(obj: client.V1Role | client.V1RoleBinding) -> dict[str, str]:
    return dict(_meta(obj).labels or {})


def _annotations(obj: client.V1Role | client.V1RoleBinding) -> dict[str, str]:
    return dict(_meta(obj).annotations or {})


class RbacStore:
    def __init__(
        self,
        api_client: client.ApiClient,
        *,
        backoff: ConflictBackoff | None = None,
        request_timeout: float | tuple[float, float] = (5.0, 30.0),
    ) -> None:
        self._rbac = client.RbacAuthorizationV1Api(api_client)
        self._backoff = backoff or ConflictBackoff()
        self._timeout = request_timeout

    # -- the grant's objects ----------------------------------------------------------------

    def ensure_rbac(self, rbac: RbacGrant) -> None:
        """Create or update the profile's Role (unless a ClusterRole is referenced) and the
        grant's RoleBinding."""
        if rbac.role_ref_kind == "Role":
            self._ensure_role(rbac)
        self._ensure_binding(rbac)

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
            # The precondition keeps us from deleting an object recreated since we read it.
            options = client.V1DeleteOptions(
                preconditions=client.V1Preconditions(
                    resource_version=_meta(binding).resource_version
                )
            )
            try:
                self._rbac.delete_namespaced_role_binding(
                    name, namespace, body=options, _request_timeout=self._timeout
                )
                return
            except KUBE_ERRORS as exc:
                if is_status(exc, 404):
                    return
                if not is_status(exc, 409):
                    raise api_error(exc, f"delete {what}") from exc
            self._backoff.wait(attempt)
        raise self._kept_changing(what)

    def list_owned_bindings(self, namespace: str) -> dict[str, client.V1RoleBinding]:
        """The bot's RoleBindings in `namespace` by grant id: one list call, whatever the count."""
        try:
            listing = self._rbac.list_namespaced_role_binding(
                namespace, label_selector=OWNED_SELECTOR, _request_timeout=self._timeout
            )
        except KUBE_ERRORS as exc:
            raise api_error(exc, f"list RoleBindings in namespace {namespace}") from exc
        owned: dict[str, client.V1RoleBinding] = {}
        for binding in listing.items or []:
            grant_id = _labels(binding).get(GRANT_ID_LABEL) or _annotations(binding).get(
                GRANT_ID_ANNOTATION
            )
            if grant_id:
                owned[grant_id] = binding
        return owned

    # -- Role -------------------------------------------------------------------------------

    def _ensure_role(self, rbac: RbacGrant) -> None:
        name = rbac.role_ref_name  # role_name(profile): shared by the profile's grants
        namespace = rbac.namespace
        what = f"Role {namespace}/{name}"
        labels = {MANAGED_BY_LABEL: MANAGED_BY_VALUE, PROFILE_LABEL: rbac.profile}
        rules = [_policy_rule(r) for r in rbac.rules]
        for attempt in range(self._backoff.attempts):
            role = self._read_role(namespace, name) or self._create_empty_role(
                namespace, name, labels
            )
            if role is None:  # created by someone else meanwhile: read it
                continue
            self._require_owned(role, what)
            current = _labels(role)
            if _rules_key(role.rules) == _rules_key(rules) and _contains(current, labels):
                return
            role.rules = rules
            _meta(role).labels = {**current, **labels}
            try:
                self._rbac.replace_namespaced_role(
                    name, namespace, role, _request_timeout=self._timeout
                )
                return
            except KUBE_ERRORS as exc:
                if not (is_status(exc, 409) or is_status(exc, 404)):
                    raise api_error(exc, f"update {what}") from exc
            self._backoff.wait(attempt)
        raise self._kept_changing(what)

    def _create_empty_role(
        self, namespace: str, name: str, labels: dict[str, str]
    ) -> client.V1Role | None:
        """Create the Role without rules; the caller then adds them with an update.

        The apiserver checks `escalate` against the request's object name, and a create
        request has none (it is a POST to the collection). Creating an empty Role needs no
        escalation, and the update that adds the rules names the Role, so the bot's
        `escalate` permission can stay limited to the profile Roles by resourceNames.
        """
        body = client.V1Role(
            metadata=client.V1ObjectMeta(name=name, namespace=namespace, labels=labels), rules=[]
        )
        try:
            role: client.V1Role = self._rbac.create_namespaced_role(
                namespace, body, _request_timeout=self._timeout
            )
        except KUBE_ERRORS as exc:
            if is_status(exc, 409):
                return None
            raise api_error(exc, f"create Role {namespace}/{name}") from exc
        return role

    def _read_role(self, namespace: str, name: str) -> client.V1Role | None:
        try:
            role: client.V1Role = self._rbac.read_namespaced_role(
                name, namespace, _request_timeout=self._timeout
            )
        except KUBE_ERRORS as exc:
            if is_status(exc, 404):
                return None
            raise api_error(exc, f"read Role {namespace}/{name}") from exc
        return role

    # -- RoleBinding ------------------------------------------------------------------------

    def _ensure_binding(self, rbac: RbacGrant) -> None:
        name = rbac.binding_name
        namespace = rbac.namespace
        what = f"RoleBinding {namespace}/{name}"
        desired = _binding(rbac)
        for attempt in range(self._backoff.attempts):
            try:
                self._rbac.create_namespaced_role_binding(
                    namespace, desired, _request_timeout=self._timeout
                )
                return
            except KUBE_ERRORS as exc:
                if not (is_status(exc, 409) and status_reason(exc) == "AlreadyExists"):
                    raise api_error(exc, f"create {what}") from exc
            existing = self._read_binding(namespace, name)
            if existing is not None and self._converge_binding(existing, desired, rbac, what):
                return
            self._backoff.wait(attempt)
        raise self._kept_changing(what)

    def _converge_binding(
        self,
        existing: client.V1RoleBinding,
        desired: client.V1RoleBinding,
        rbac: RbacGrant,
        what: str,
    ) -> bool:
        """Bring an existing binding in line; False means "try creating it again"."""
        self._require_owned(existing, what)
        meta = _meta(existing)
        if _role_ref_key(existing.role_ref) != _role_ref_key(desired.role_ref):
            # roleRef is immutable: the binding has to be replaced by a new object.
            options = client.V1DeleteOptions(
                preconditions=client.V1Preconditions(resource_version=meta.resource_version)
            )
            try:
                self._rbac.delete_namespaced_role_binding(
                    rbac.binding_name, rbac.namespace, body=options, _request_timeout=self._timeout
                )
            except KUBE_ERRORS as exc:
                if not (is_status(exc, 404) or is_status(exc, 409)):
                    raise api_error(exc, f"delete {what} to change its role") from exc
            return False
        labels = {**_labels(existing), **_labels(desired)}
        annotations = {**_annotations(existing), **_annotations(desired)}
        if (
            _subjects_key(existing.subjects) == _subjects_key(desired.subjects)
            and labels == _labels(existing)
            and annotations == _annotations(existing)
        ):
            return True
        existing.subjects = desired.subjects
        meta.labels = labels
        meta.annotations = annotations
        try:
            self._rbac.replace_namespaced_role_binding(
                rbac.binding_name, rbac.namespace, existing, _request_timeout=self._timeout
            )
        except KUBE_ERRORS as exc:
            if is_status(exc, 409) or is_status(exc, 404):
                return False
            raise api_error(exc, f"update {what}") from exc
        return True

    def _read_binding(self, namespace: str, name: str) -> client.V1RoleBinding | None:
        try:
            binding: client.V1RoleBinding = self._rbac.read_namespaced_role_binding(
                name, namespace, _request_timeout=self._timeout
            )
        except KUBE_ERRORS as exc:
            if is_status(exc, 404):
                return None
            raise api_error(exc, f"read RoleBinding {namespace}/{name}") from exc
        return binding

    # -- shared ----------------------------------------------------------------------------

    @staticmethod
    def _require_owned(obj: client.V1Role | client.V1RoleBinding, what: str) -> None:
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


def _binding(rbac: RbacGrant) -> client.V1RoleBinding:
    return client.V1RoleBinding(
        metadata=client.V1ObjectMeta(
            name=rbac.binding_name,
            namespace=rbac.namespace,
            labels={
                MANAGED_BY_LABEL: MANAGED_BY_VALUE,
                GRANT_ID_LABEL: rbac.grant_id,
                PROFILE_LABEL: rbac.profile,
            },
            annotations={
                GRANT_ID_ANNOTATION: rbac.grant_id,
                EXPIRES_ANNOTATION: rbac.expires_at.isoformat(),
                REQUESTER_ANNOTATION: rbac.requester,
            },
        ),
        role_ref=client.V1RoleRef(
            api_group=RBAC_API_GROUP, kind=rbac.role_ref_kind, name=rbac.role_ref_name
        ),
        subjects=[
            client.RbacV1Subject(kind="User", name=rbac.subject_user, api_group=RBAC_API_GROUP)
        ],
    )


def _policy_rule(rule: PolicyRule) -> client.V1PolicyRule:
    return client.V1PolicyRule(
        api_groups=list(rule.api_groups),
        resources=list(rule.resources),
        verbs=list(rule.verbs),
        resource_names=list(rule.resource_names) or None,
    )


def _rules_key(rules: list[client.V1PolicyRule] | None) -> list[tuple[tuple[str, ...], ...]]:
    return [
        (
            tuple(r.api_groups or ()),
            tuple(r.resources or ()),
            tuple(r.verbs or ()),
            tuple(r.resource_names or ()),
            tuple(r.non_resource_urls or ()),
        )
        for r in rules or []
    ]


def _role_ref_key(ref: client.V1RoleRef | None) -> tuple[str, str, str]:
    return ("", "", "") if ref is None else (ref.api_group or "", ref.kind, ref.name)


def _subjects_key(subjects: list[client.RbacV1Subject] | None) -> list[tuple[str, str, str, str]]:
    return [(s.kind, s.name, s.api_group or "", s.namespace or "") for s in subjects or []]


def _contains(mapping: dict[str, str], required: dict[str, str]) -> bool:
    return all(mapping.get(k) == v for k, v in required.items())
