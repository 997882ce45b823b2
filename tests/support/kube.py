"""pytest plugin: a real kube-apiserver + etcd on loopback, with the bot's own RBAC applied.

`kube_env` (session) starts the apiserver once; `aws_auth_reset` (function) gives every test a
realistic aws-auth and no leftover grant objects. Binaries come from `KUBEBUILDER_ASSETS` or
`~/.cache/eks-access/envtest` (built by `.ci/build-envtest.sh`). Without them the tests are
skipped on a laptop and fail in CI, where a silent skip would hide that nothing ran.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from kubernetes import client

from bot.adapters.kubernetes.connection import api_client_from_kubeconfig
from bot.adapters.kubernetes.permissions import bot_permissions_manifest
from bot.domain.rbac import MANAGED_BY_LABEL, MANAGED_BY_VALUE, role_name
from tests.support.authenticator import TokenReviewWebhook, token_for
from tests.support.envtest import (
    ASSETS_ENV,
    Envtest,
    TokenUser,
    aggregate_cluster_roles,
    apply_manifest,
    assets_dir,
    delete_labelled_rbac,
    missing_binaries,
)
from tests.support.kube_objects import name_of

RBAC = "rbac.authorization.k8s.io"
AUTHZ = "authorization.k8s.io"
BOT_USER = "eks-access-bot"
BOT_GROUP = "eks-access:bots"
GRANT_NAMESPACES = ("default", "payments")
PROFILES = ("pods-read", "ns-admin")
PROFILE_ROLES = tuple(role_name(p) for p in PROFILES)
CLUSTER_ROLE_REFS = ("view", "edit")
#: Tests label the foreign objects they create with this, so `aws_auth_reset` removes them.
TEST_OBJECT_LABEL = "eks-access-test/fixture"
#: Namespaces labelled with this are cleaned by `aws_auth_reset` like the grant namespaces.
TEST_NAMESPACE_LABEL = "eks-access-test/namespace"

NODE_ROLE_ARN = "arn:aws:iam::111122223333:role/eks-node-group-NodeInstanceRole-1ABC"
ADMIN_USER_ARN = "arn:aws:iam::111122223333:user/platform-admin"
FOREIGN_MAP_ROLES = """\
# Managed by the platform team. Node roles must stay first; see runbook AUTH-7.
- rolearn: arn:aws:iam::111122223333:role/eks-node-group-NodeInstanceRole-1ABC
  username: system:node:{{EC2PrivateDNSName}}
  groups:
    - system:bootstrappers
    - system:nodes
- sso:
    permissionSetName: PlatformAdmin
    accountID: "111122223333"
  username: sso-admin:{{SessionName}}
  groups:
    - platform:admins
"""
FOREIGN_MAP_USERS = """\
- userarn: arn:aws:iam::111122223333:user/platform-admin
  username: platform-admin
  groups:
  - system:masters
"""
FOREIGN_MAP_ACCOUNTS = """\
- "444455556666"
"""
FOREIGN_AWS_AUTH_DATA = {
    "mapRoles": FOREIGN_MAP_ROLES,
    "mapUsers": FOREIGN_MAP_USERS,
    "mapAccounts": FOREIGN_MAP_ACCOUNTS,
}
FOREIGN_AWS_AUTH_BINARY = {"checksum": base64.b64encode(b"\x00\x01sha256\xff").decode()}
FOREIGN_AWS_AUTH_LABELS = {"app.kubernetes.io/managed-by": "eksctl", "team": "platform"}
FOREIGN_AWS_AUTH_ANNOTATIONS = {"platform.example.com/owner": "platform-team"}


@dataclass
class KubeEnv:
    """What tests get from `kube_env`: where the apiserver is and who may talk to it."""

    envtest: Envtest
    admin_kubeconfig: str
    bot_kubeconfig: str
    url: str
    grant_namespaces: tuple[str, ...] = GRANT_NAMESPACES
    #: The model of the EKS authenticator the apiserver asks about bearer tokens it does not
    #: know (`tests/support/authenticator/`); `aws_auth_reset` resets it for every test.
    authenticator: TokenReviewWebhook | None = field(default=None, repr=False)
    _admin: client.ApiClient | None = field(default=None, repr=False)

    def admin_api_client(self) -> client.ApiClient:
        """An ApiClient in `system:masters` (shared; do not close it)."""
        if self._admin is None:
            self._admin = api_client_from_kubeconfig(self.admin_kubeconfig)
        return self._admin

    def bot_api_client(self) -> client.ApiClient:
        """A fresh ApiClient as the bot (`eks-access-bot` in `eks-access:bots`)."""
        return api_client_from_kubeconfig(self.bot_kubeconfig)

    def api_client_as(self, arn: str, session: str | None = None) -> client.ApiClient:
        """A fresh ApiClient authenticating as the IAM `arn` (a role with an STS `session`).

        Whoever the authenticator model makes of it, from aws-auth and access entries, is who
        the apiserver sees: a grant is proven by acting as the requester. Each call mints a new
        token, so a revoke is seen at once (the apiserver keeps a token's success for 10 s).
        """
        token = token_for(arn, session)
        name = arn.rsplit("/", 1)[-1] + (f"-{session}" if session else "")
        return api_client_from_kubeconfig(str(self.envtest.bearer_token_kubeconfig(name, token)))

    def kubeconfig_for(self, user: str, groups: tuple[str, ...] = ()) -> str:
        """A kubeconfig for any other identity (client certificate; no restart needed)."""
        return str(self.envtest.client_cert_kubeconfig(user, groups))

    def can(
        self,
        user: str,
        groups: list[str] | tuple[str, ...],
        verb: str,
        resource: str,
        namespace: str,
        group: str = "",
        *,
        name: str = "",
    ) -> bool:
        """The apiserver's own answer (a SubjectAccessReview as admin), for object `name` if
        given (a rule with resourceNames allows only requests that name the object)."""
        review = client.V1SubjectAccessReview(
            spec=client.V1SubjectAccessReviewSpec(
                user=user,
                groups=list(groups),
                resource_attributes=client.V1ResourceAttributes(
                    namespace=namespace, verb=verb, group=group, resource=resource, name=name
                ),
            )
        )
        answer = client.AuthorizationV1Api(self.admin_api_client()).create_subject_access_review(
            review
        )
        return bool(answer.status and answer.status.allowed)

    def settled_can(
        self,
        user: str,
        groups: list[str] | tuple[str, ...],
        verb: str,
        resource: str,
        namespace: str,
        group: str = "",
        *,
        expect: bool,
        name: str = "",
        timeout: float = 3.0,
    ) -> bool:
        """`can()` once the authorizer has caught up with a change just made.

        The RBAC authorizer reads Roles and bindings from informer caches, so a change takes
        effect a few milliseconds (rarely more) after the write returns. Polls until the answer
        is `expect` or `timeout` seconds pass, and returns the last answer.
        """
        deadline = time.monotonic() + timeout
        while True:
            answer = self.can(user, groups, verb, resource, namespace, group, name=name)
            if answer == expect or time.monotonic() >= deadline:
                return answer
            time.sleep(0.02)


def running_in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="session")
def kube_env() -> Iterator[KubeEnv]:
    folder = assets_dir()
    missing = missing_binaries(folder)
    if missing:
        reason = (
            f"{' and '.join(missing)} not found in {folder} (set {ASSETS_ENV} or run "
            ".ci/build-envtest.sh)"
        )
        if running_in_ci():
            pytest.fail(f"CI needs the real apiserver: {reason}", pytrace=False)
        pytest.skip(reason)
    with (
        TokenReviewWebhook() as authenticator,
        Envtest(
            folder,
            token_users=[TokenUser(BOT_USER, (BOT_GROUP,))],
            token_webhook_url=authenticator.url,
        ) as envtest,
    ):
        # Its own admin client: nothing the bot or a test does to theirs can change what it reads.
        authenticator.read_aws_auth_from(str(envtest.admin_kubeconfig))
        env = KubeEnv(
            envtest=envtest,
            admin_kubeconfig=str(envtest.admin_kubeconfig),
            bot_kubeconfig=str(envtest.token_kubeconfig(BOT_USER)),
            url=envtest.url,
            authenticator=authenticator,
        )
        admin = env.admin_api_client()
        # No controller-manager here: fill view/edit/admin as its aggregation controller would,
        # so that binding them grants (and `bind` checks) what it grants in a real cluster.
        aggregate_cluster_roles(admin)
        core = client.CoreV1Api(admin)
        for namespace in GRANT_NAMESPACES:
            if namespace != "default":
                core.create_namespace(
                    client.V1Namespace(
                        metadata=client.V1ObjectMeta(
                            name=namespace, labels={TEST_NAMESPACE_LABEL: "true"}
                        )
                    )
                )
        apply_manifest(
            admin,
            bot_permissions_manifest(
                role_names=list(PROFILE_ROLES),
                cluster_role_refs=list(CLUSTER_ROLE_REFS),
                namespaces=list(GRANT_NAMESPACES),
                subject={"kind": "Group", "name": BOT_GROUP, "apiGroup": RBAC},
            ),
        )
        # The informers deliver in order: once the last Role and binding of the manifest are
        # in effect, all of it is.
        settled = [
            env.settled_can(
                BOT_USER, [BOT_GROUP], "create", "rolebindings", namespace, RBAC, expect=True
            )
            for namespace in GRANT_NAMESPACES
        ]
        if not all(settled):
            pytest.fail("the bot's RBAC did not take effect", pytrace=False)
        try:
            yield env
        finally:
            admin.close()


@pytest.fixture
def aws_auth_reset(kube_env: KubeEnv) -> dict[str, str]:
    """A fresh, realistic aws-auth (nodes, SSO, an admin, mapAccounts) and no grant objects.

    Returns the `data` written, for byte-for-byte comparisons afterwards. The authenticator
    model goes back to aws-auth only (no EKS cluster), SSORoleMatch off, no recorded reviews.
    """
    if kube_env.authenticator is not None:
        kube_env.authenticator.reset()
    admin = kube_env.admin_api_client()
    core = client.CoreV1Api(admin)
    try:
        core.delete_namespaced_config_map("aws-auth", "kube-system")
    except client.ApiException as exc:
        if exc.status != 404:
            raise
    core.create_namespaced_config_map(
        "kube-system",
        client.V1ConfigMap(
            metadata=client.V1ObjectMeta(
                name="aws-auth",
                namespace="kube-system",
                labels=dict(FOREIGN_AWS_AUTH_LABELS),
                annotations=dict(FOREIGN_AWS_AUTH_ANNOTATIONS),
            ),
            data=dict(FOREIGN_AWS_AUTH_DATA),
            binary_data=dict(FOREIGN_AWS_AUTH_BINARY),
        ),
    )
    labelled = core.list_namespace(label_selector=TEST_NAMESPACE_LABEL).items or []
    namespaces = {*kube_env.grant_namespaces, *(name_of(ns) for ns in labelled)}
    for namespace in sorted(namespaces):
        for selector in (f"{MANAGED_BY_LABEL}={MANAGED_BY_VALUE}", TEST_OBJECT_LABEL):
            delete_labelled_rbac(admin, namespace, selector)
    return dict(FOREIGN_AWS_AUTH_DATA)
