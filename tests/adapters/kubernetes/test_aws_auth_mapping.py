"""aws-auth edits through the gateway, as the bot's least-privilege identity, on a real apiserver."""

from __future__ import annotations

import threading

import pytest
import yaml
from kubernetes import client

from bot.adapters.kubernetes.aws_auth_store import AwsAuthStore
from bot.adapters.kubernetes.connection import api_client_from_kubeconfig
from bot.adapters.kubernetes.gateway import KubernetesClusterGateway
from bot.adapters.kubernetes.retry import ConflictBackoff
from bot.domain import aws_auth
from bot.domain.aws_auth import AwsAuthUnreadable
from bot.domain.errors import PermanentError, TransientError
from bot.domain.grants import MappedIdentity, MappedVia
from bot.domain.principals import Identity
from tests.adapters.kubernetes.conftest import foreign_entries, principal, read_aws_auth
from tests.support.kube import (
    BOT_GROUP,
    BOT_USER,
    FOREIGN_AWS_AUTH_ANNOTATIONS,
    FOREIGN_AWS_AUTH_BINARY,
    FOREIGN_AWS_AUTH_LABELS,
    FOREIGN_MAP_ACCOUNTS,
    FOREIGN_MAP_ROLES,
    FOREIGN_MAP_USERS,
    KubeEnv,
)
from tests.support.kube_objects import data_of, meta

pytestmark = pytest.mark.kube


def _set_map_roles(kube_env: KubeEnv, text: str) -> str:
    """Replace mapRoles as an admin would by hand; returns the new resourceVersion."""
    core = client.CoreV1Api(kube_env.admin_api_client())
    cm = core.read_namespaced_config_map("aws-auth", "kube-system")
    cm.data = {**(cm.data or {}), "mapRoles": text}
    written = core.replace_namespaced_config_map("aws-auth", "kube-system", cm)
    return str(meta(written).resource_version)


def _assert_foreign_content_untouched(kube_env: KubeEnv) -> client.V1ConfigMap:
    cm = read_aws_auth(kube_env)
    data = cm.data or {}
    assert data["mapAccounts"] == FOREIGN_MAP_ACCOUNTS
    assert foreign_entries(data["mapRoles"]) == foreign_entries(FOREIGN_MAP_ROLES)
    assert foreign_entries(data["mapUsers"]) == foreign_entries(FOREIGN_MAP_USERS)
    assert cm.binary_data == FOREIGN_AWS_AUTH_BINARY
    assert meta(cm).labels == FOREIGN_AWS_AUTH_LABELS
    assert meta(cm).annotations == FOREIGN_AWS_AUTH_ANNOTATIONS
    return cm


def test_mapping_added_then_removed_leaves_foreign_content_byte_identical(
    kube_env: KubeEnv, bot_gateway: KubernetesClusterGateway, aws_auth_reset: dict[str, str]
) -> None:
    role, user = principal("dev-alice"), principal("bob", kind="user")

    assert bot_gateway.ensure_mapping(Identity(role)) == MappedIdentity(
        role.username, MappedVia.AWS_AUTH
    )
    assert bot_gateway.ensure_mapping(Identity(user)).username == user.username

    cm = _assert_foreign_content_untouched(kube_env)
    data = cm.data or {}
    # The node-role entry, comment and layout survive as text, not just as parsed content.
    assert data["mapRoles"].startswith(FOREIGN_MAP_ROLES)
    assert data["mapUsers"].startswith(FOREIGN_MAP_USERS)
    assert {m.arn for m in aws_auth.owned_mappings(data)} == {role.arn, user.arn}

    bot_gateway.remove_mapping(role)
    bot_gateway.remove_mapping(user)

    assert read_aws_auth(kube_env).data == aws_auth_reset
    _assert_foreign_content_untouched(kube_env)


def test_ensure_mapping_twice_writes_once(
    kube_env: KubeEnv, bot_gateway: KubernetesClusterGateway
) -> None:
    alice = principal("dev-alice")
    bot_gateway.ensure_mapping(Identity(alice))
    version = meta(read_aws_auth(kube_env)).resource_version

    assert bot_gateway.ensure_mapping(Identity(alice)).username == alice.username
    bot_gateway.remove_mapping(principal("never-mapped"))

    assert meta(read_aws_auth(kube_env)).resource_version == version


def test_role_with_iam_path_is_mapped_without_it(
    kube_env: KubeEnv, bot_gateway: KubernetesClusterGateway
) -> None:
    with_path = principal("team/dev/eks-dev")

    bot_gateway.ensure_mapping(Identity(with_path))

    owned = aws_auth.owned_mappings(read_aws_auth(kube_env).data or {})
    assert [m.arn for m in owned] == ["arn:aws:iam::123456789012:role/eks-dev"]


def test_foreign_entry_for_the_principal_is_left_alone_and_its_username_used(
    kube_env: KubeEnv, bot_gateway: KubernetesClusterGateway
) -> None:
    alice = principal("dev-alice")
    version = _set_map_roles(
        kube_env,
        FOREIGN_MAP_ROLES
        + f"- rolearn: {alice.arn.upper().replace('ARN:AWS:IAM', 'arn:aws:iam')}\n"
        "  username: alice-by-hand\n  groups: [developers]\n",
    )

    assert bot_gateway.ensure_mapping(Identity(alice)) == MappedIdentity(
        "alice-by-hand", MappedVia.EXISTING
    )

    assert meta(read_aws_auth(kube_env)).resource_version == version


def test_a_principal_of_a_map_accounts_account_keeps_its_arn_as_username(
    kube_env: KubeEnv, bot_gateway: KubernetesClusterGateway, aws_auth_reset: dict[str, str]
) -> None:
    """mapAccounts maps every principal of account 444455556666 to its ARN: an entry of the
    bot's would remap it (and drop whatever RBAC names the ARN), so the ARN is bound instead."""
    bob = Identity.parse("arn:aws:iam::444455556666:user/bob")
    ops = Identity.parse("arn:aws:iam::444455556666:role/teams/ops")
    shared = Identity.parse("arn:aws:iam::444455556666:role/sso", "bob@example.com")
    version = meta(read_aws_auth(kube_env)).resource_version

    assert bot_gateway.ensure_mapping(bob).username == "arn:aws:iam::444455556666:user/bob"
    assert bot_gateway.ensure_mapping(ops).username == "arn:aws:iam::444455556666:role/ops"
    with pytest.raises(PermanentError, match="for every session of the role"):
        bot_gateway.ensure_mapping(shared)
    bot_gateway.remove_mapping(bob.principal)

    cm = read_aws_auth(kube_env)
    assert meta(cm).resource_version == version and cm.data == aws_auth_reset


@pytest.mark.parametrize("arn_field", ["roleARN", "RoleArn"])
def test_foreign_entry_in_another_letter_case_is_not_shadowed(
    kube_env: KubeEnv, bot_gateway: KubernetesClusterGateway, arn_field: str
) -> None:
    """The defect: entries spelled `roleARN:` were invisible, so the bot added a second entry
    for the ARN and the authenticator (last one wins) used the bot's instead of the admin's."""
    alice = principal("dev-alice")
    text = (
        FOREIGN_MAP_ROLES
        + f"- {arn_field}: {alice.arn}\n  UserName: alice-by-hand\n  Groups: [system:masters]\n"
    )
    version = _set_map_roles(kube_env, text)

    assert bot_gateway.ensure_mapping(Identity(alice)).username == "alice-by-hand"

    cm = read_aws_auth(kube_env)
    assert meta(cm).resource_version == version
    assert (cm.data or {})["mapRoles"] == text
    assert aws_auth.find_mapping(cm.data or {}, alice.arn) == aws_auth.Mapping(
        "role", alice.arn, "alice-by-hand", ("system:masters",)
    )


def test_foreign_entry_with_templated_username_is_refused(
    kube_env: KubeEnv, bot_gateway: KubernetesClusterGateway
) -> None:
    alice = principal("dev-alice")
    version = _set_map_roles(
        kube_env,
        FOREIGN_MAP_ROLES + f"- rolearn: {alice.arn}\n  username: dev:{{{{SessionName}}}}\n",
    )

    with pytest.raises(PermanentError, match="needs the session name"):
        bot_gateway.ensure_mapping(Identity(alice))

    assert meta(read_aws_auth(kube_env)).resource_version == version


def test_unparseable_map_roles_is_never_written(
    kube_env: KubeEnv, bot_gateway: KubernetesClusterGateway
) -> None:
    broken = FOREIGN_MAP_ROLES + "- rolearn: [unclosed\n  username: x\n"
    version = _set_map_roles(kube_env, broken)

    with pytest.raises(AwsAuthUnreadable) as caught:
        bot_gateway.ensure_mapping(Identity(principal("dev-alice")))
    with pytest.raises(AwsAuthUnreadable):
        bot_gateway.remove_mapping(principal("dev-alice"))

    assert isinstance(caught.value, PermanentError)
    assert "mapRoles" in str(caught.value)
    cm = read_aws_auth(kube_env)
    assert meta(cm).resource_version == version
    assert (cm.data or {})["mapRoles"] == broken


def test_missing_aws_auth_is_reported_not_created(
    kube_env: KubeEnv, bot_gateway: KubernetesClusterGateway
) -> None:
    client.CoreV1Api(kube_env.admin_api_client()).delete_namespaced_config_map(
        "aws-auth", "kube-system"
    )

    with pytest.raises(PermanentError, match="does not exist"):
        bot_gateway.ensure_mapping(Identity(principal("dev-alice")))
    bot_gateway.remove_mapping(principal("dev-alice"))  # nothing to remove: fine

    # `create` cannot be limited to aws-auth, so the bot does not hold it at all.
    assert not kube_env.can(BOT_USER, [BOT_GROUP], "create", "configmaps", "kube-system")


def test_missing_aws_auth_is_created_when_allowed(
    kube_env: KubeEnv, aws_auth_reset: dict[str, str]
) -> None:
    admin = kube_env.admin_api_client()
    client.CoreV1Api(admin).delete_namespaced_config_map("aws-auth", "kube-system")
    gateway = KubernetesClusterGateway(admin, create_aws_auth=True)

    gateway.ensure_mapping(Identity(principal("dev-alice")))

    owned = aws_auth.owned_mappings(read_aws_auth(kube_env).data or {})
    assert [m.username for m in owned] == [principal("dev-alice").username]


class _InterferingEdit:
    """Adds dev-alice, but lets another writer change aws-auth between our read and write."""

    def __init__(self, kube_env: KubeEnv, times: int) -> None:
        self.kube_env, self.times, self.calls = kube_env, times, 0
        alice = principal("dev-alice")
        self.mapping = aws_auth.Mapping(kind="role", arn=alice.arn, username=alice.username)

    def __call__(self, data: dict[str, str]) -> dict[str, str]:
        self.calls += 1
        if self.calls <= self.times:
            n = self.calls
            entry = f"- rolearn: arn:aws:iam::999988887777:role/human-{n}\n  username: human-{n}\n"
            _set_map_roles(self.kube_env, data["mapRoles"] + entry)
        return aws_auth.with_mapping(data, self.mapping)


def _update_as_bot(kube_env: KubeEnv, edit: _InterferingEdit, jitter: float) -> list[float]:
    """Run `edit` through the store as the bot; return the backoff sleeps it asked for."""
    sleeps: list[float] = []
    backoff = ConflictBackoff(sleep=sleeps.append, rng=lambda: jitter)
    with api_client_from_kubeconfig(kube_env.bot_kubeconfig) as api_client:
        AwsAuthStore(api_client, backoff=backoff).update(edit, create=False)
    return sleeps


def test_write_based_on_a_stale_read_is_retried_on_fresh_data(
    kube_env: KubeEnv, aws_auth_reset: dict[str, str]
) -> None:
    edit = _InterferingEdit(kube_env, times=2)

    sleeps = _update_as_bot(kube_env, edit, jitter=0.5)

    assert edit.calls == 3
    assert sleeps == [0.025, 0.05]
    data = read_aws_auth(kube_env).data or {}
    usernames = [e["username"] for e in yaml.safe_load(data["mapRoles"])]
    assert usernames[-3:] == ["human-1", "human-2", principal("dev-alice").username]


def test_conflicts_that_never_stop_end_in_a_transient_error_without_writing(
    kube_env: KubeEnv, aws_auth_reset: dict[str, str]
) -> None:
    edit = _InterferingEdit(kube_env, times=100)
    sleeps: list[float] = []
    backoff = ConflictBackoff(sleep=sleeps.append, rng=lambda: 1.0)

    with (
        api_client_from_kubeconfig(kube_env.bot_kubeconfig) as api_client,
        pytest.raises(TransientError, match="changed by someone else 8 times"),
    ):
        AwsAuthStore(api_client, backoff=backoff).update(edit, create=False)

    assert edit.calls == 8
    assert sleeps == [0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 2.0]
    assert aws_auth.owned_mappings(read_aws_auth(kube_env).data or {}) == []


def _eksctl_like_writer(kube_env: KubeEnv, count: int, errors: list[BaseException]) -> None:
    """What eksctl does: GET, parse, append, re-dump, PUT with the read resourceVersion.

    eksctl itself gives up on 409; here the "human" simply runs it again.
    """
    try:
        with api_client_from_kubeconfig(kube_env.admin_kubeconfig) as api_client:
            core = client.CoreV1Api(api_client)
            for i in range(count):
                while True:
                    cm = core.read_namespaced_config_map("aws-auth", "kube-system")
                    roles = yaml.safe_load(data_of(cm)["mapRoles"]) or []
                    roles.append(
                        {
                            "rolearn": f"arn:aws:iam::999988887777:role/nodegroup-{i}",
                            "username": "system:node:{{EC2PrivateDNSName}}",
                            "groups": ["system:bootstrappers", "system:nodes"],
                        }
                    )
                    data_of(cm)["mapRoles"] = yaml.safe_dump(roles, default_flow_style=False)
                    try:
                        core.replace_namespaced_config_map("aws-auth", "kube-system", cm)
                        break
                    except client.ApiException as exc:
                        if exc.status != 409:
                            raise
    except BaseException as exc:
        errors.append(exc)


def _bot_worker(
    kube_env: KubeEnv, names: list[str], errors: list[BaseException], usernames: list[str]
) -> None:
    try:
        with api_client_from_kubeconfig(kube_env.bot_kubeconfig) as api_client:
            gateway = KubernetesClusterGateway(api_client)
            for name in names:
                usernames.append(gateway.ensure_mapping(Identity(principal(name))).username)
    except BaseException as exc:
        errors.append(exc)


def test_concurrent_writers_lose_nothing(kube_env: KubeEnv, aws_auth_reset: dict[str, str]) -> None:
    errors: list[BaseException] = []
    usernames: list[str] = []
    names = [f"dev-{i:02d}" for i in range(60)]
    threads = [threading.Thread(target=_eksctl_like_writer, args=(kube_env, 30, errors))]
    threads += [
        threading.Thread(target=_bot_worker, args=(kube_env, names[k::4], errors, usernames))
        for k in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert not errors, errors
    assert sorted(usernames) == sorted(principal(n).username for n in names)
    data = read_aws_auth(kube_env).data or {}
    arns = {e.get("rolearn") for e in yaml.safe_load(data["mapRoles"])}
    assert {f"arn:aws:iam::999988887777:role/nodegroup-{i}" for i in range(30)} <= arns
    assert {m.arn for m in aws_auth.owned_mappings(data)} == {principal(n).arn for n in names}
    # The eksctl-style writer drops comments and layout, never entries.
    for original in foreign_entries(FOREIGN_MAP_ROLES):
        assert original in yaml.safe_load(data["mapRoles"])
    assert foreign_entries(data["mapUsers"]) == foreign_entries(FOREIGN_MAP_USERS)
    assert data["mapAccounts"] == FOREIGN_MAP_ACCOUNTS
