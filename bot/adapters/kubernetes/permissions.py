"""The bot's own RBAC: exactly what the gateway calls, no wildcards, names wherever possible.

Each verb is one a gateway operation calls, and no other: tests/adapters/kubernetes/
test_permissions.py removes each in turn and shows, on a real apiserver, the operation that
then fails.

- aws-auth, by name: `get` (read it) and `update` (write it back with the resourceVersion
  read). Not `create`: it cannot be limited to aws-auth and would allow any ConfigMap in
  kube-system. A missing aws-auth is reported as a PermanentError instead (EKS creates it with
  the first node group).
- rolebindings: `create` (a grant's binding), `get` (read before deleting or converging one),
  `list` (reconcile's inventory), `update` (converge its subjects and labels), `delete`
  (revoke).
- profile Roles, by name: `get` and `update` (the rules are written by an update, below).
- No `patch` anywhere: every write is a read-modify-write replace carrying the resourceVersion
  it read, so it never overwrites another writer's change.
- `bind` on the profile Roles and referenced ClusterRoles: without it, creating a RoleBinding
  is an escalation (the bot does not hold the permissions it hands out). `escalate` does not
  stand in for `bind`. A Role in the grant namespace may grant `bind` on ClusterRoles; it then
  covers RoleBindings in that namespace only.
- `escalate` on the profile Roles: writing rules the bot does not hold needs it. The apiserver
  checks it against the request's object name, which a create (POST to the collection) does
  not carry, so a name-restricted `escalate` never allows a create with rules. The gateway
  therefore creates a profile Role empty (plain `create`) and adds the rules with an update,
  which names the Role, so `escalate` stays restricted to the profile Roles.
- `create` on roles and rolebindings cannot be restricted by name (same reason). A Role the
  bot creates grants nothing until it is bound, and binding is limited by `bind` above.
- Nothing cluster-wide: the bot reviews access only as itself (`check-config --check-clusters`
  asks SelfSubjectAccessReviews, which every authenticated user may), so it needs no
  `subjectaccessreviews` and no ClusterRole of its own.

`needed_access` turns a manifest into the requests it allows, one by one: what the preflight
asks the cluster, so that what it checks and what `eks-access permissions` prints are one list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.adapters.kubernetes.aws_auth_store import NAME as AWS_AUTH_NAME
from bot.adapters.kubernetes.aws_auth_store import NAMESPACE as AWS_AUTH_NAMESPACE
from bot.domain.policy import Policy
from bot.domain.rbac import role_name

RBAC_API = "rbac.authorization.k8s.io/v1"
RBAC_GROUP = "rbac.authorization.k8s.io"
# `eks-access:` (with a colon) can never equal a profile Role `eks-access-<profile>`.
AWS_AUTH_ROLE = "eks-access:bot-aws-auth"
GRANTS_ROLE = "eks-access:bot-grants"
# Not the managed-by label: the bot must not count its own RBAC among the grants it owns.
LABELS = {"app.kubernetes.io/part-of": "eks-access", "app.kubernetes.io/component": "bot-rbac"}
#: Whom `eks-access permissions` binds (README, "The bot's own cluster permissions").
BOTS_GROUP = {"kind": "Group", "name": "eks-access:bots", "apiGroup": RBAC_GROUP}


@dataclass(frozen=True)
class Access:
    """One request the bot must be allowed to make, as a SelfSubjectAccessReview asks it."""

    verb: str
    group: str  # "" for the core group
    resource: str
    namespace: str
    name: str | None = None  # None: any object (verbs that a name cannot restrict)

    def __str__(self) -> str:
        """`bind roles.rbac.authorization.k8s.io/x in ns`: `kubectl auth can-i`'s words."""
        what = f"{self.resource}.{self.group}" if self.group else self.resource
        return f"{self.verb} {what}{'/' + self.name if self.name else ''} in {self.namespace}"


def policy_permissions_manifest(
    policy: Policy,
    *,
    cluster: str | None = None,
    aws_auth: bool = True,
    subject: dict[str, str] = BOTS_GROUP,
) -> list[dict[str, Any]]:
    """The bot's RBAC for the profiles of `policy`: `eks-access permissions` prints it.

    cluster: only the profiles granted on that cluster (the preflight of one cluster).
    aws_auth: False for a cluster whose identities go to access entries, not aws-auth.
    """
    profiles = [p for p in policy.profiles.values() if cluster is None or p.allows_cluster(cluster)]
    return bot_permissions_manifest(
        role_names=sorted({role_name(p.name) for p in profiles if not p.cluster_role}),
        cluster_role_refs=sorted({p.cluster_role for p in profiles if p.cluster_role}),
        namespaces=sorted({ns for p in profiles for ns in p.namespaces}),
        subject=subject,
        aws_auth=aws_auth,
    )


def needed_access(manifest: list[dict[str, Any]]) -> list[Access]:
    """Every (verb, resource, namespace, name) the Roles of `manifest` allow, in order."""
    return [
        Access(verb, group, resource, doc["metadata"]["namespace"], name)
        for doc in manifest
        if doc["kind"] == "Role"
        for rule in doc["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for name in rule.get("resourceNames") or [None]
        for verb in rule["verbs"]
    ]


def bot_permissions_manifest(
    *,
    role_names: list[str],
    cluster_role_refs: list[str],
    namespaces: list[str],
    subject: dict[str, str],
    aws_auth: bool = True,
) -> list[dict[str, Any]]:
    """The bot's Roles and RoleBindings, for `kubectl apply` or a test harness.

    role_names: the profile Roles the bot creates and binds (`eks-access-<profile>`).
    cluster_role_refs: existing ClusterRoles the profiles reference (e.g. `view`).
    namespaces: every namespace a grant may target.
    subject: whom to bind, e.g. `{"kind": "Group", "name": "eks-access:bots",
             "apiGroup": "rbac.authorization.k8s.io"}`.
    aws_auth: whether to include the Role and binding for kube-system/aws-auth.
    """
    for name in [*role_names, *cluster_role_refs, *namespaces]:
        if not name or "*" in name:
            raise ValueError(f"{name!r} is not a name; the bot's RBAC lists names, no wildcards")
    roles, cluster_roles = sorted(set(role_names)), sorted(set(cluster_role_refs))
    docs: list[dict[str, Any]] = []
    if aws_auth:
        docs += _role_and_binding(
            AWS_AUTH_NAMESPACE,
            AWS_AUTH_ROLE,
            [_rule("", "configmaps", ["get", "update"], [AWS_AUTH_NAME])],
            subject,
        )
    grant_rules = [
        _rule(RBAC_GROUP, "rolebindings", ["create", "get", "list", "update", "delete"]),
        _rule(RBAC_GROUP, "roles", ["create"]),
    ]
    if roles:
        grant_rules.append(_rule(RBAC_GROUP, "roles", ["get", "update", "bind", "escalate"], roles))
    if cluster_roles:
        grant_rules.append(_rule(RBAC_GROUP, "clusterroles", ["bind"], cluster_roles))
    for namespace in sorted(set(namespaces)):
        docs += _role_and_binding(namespace, GRANTS_ROLE, grant_rules, subject)
    return docs


def _role_and_binding(
    namespace: str, name: str, rules: list[dict[str, Any]], subject: dict[str, str]
) -> list[dict[str, Any]]:
    meta = {"name": name, "namespace": namespace, "labels": dict(LABELS)}
    return [
        {"apiVersion": RBAC_API, "kind": "Role", "metadata": dict(meta), "rules": rules},
        {
            "apiVersion": RBAC_API,
            "kind": "RoleBinding",
            "metadata": dict(meta),
            "roleRef": {"apiGroup": RBAC_GROUP, "kind": "Role", "name": name},
            "subjects": [dict(subject)],
        },
    ]


def _rule(
    api_group: str, resource: str, verbs: list[str], names: list[str] | None = None
) -> dict[str, Any]:
    rule: dict[str, Any] = {"apiGroups": [api_group], "resources": [resource], "verbs": verbs}
    if names:
        rule["resourceNames"] = list(names)
    return rule
