"""Every way people sign in, proven by signing in: the bot process grants, and the requester's
own token (resolved by the authenticator model from live aws-auth and access entries) lists
pods while the grant lasts and is refused once it ends; a colleague on the same SSO role is
refused throughout.

Clusters: aws-auth on the real apiserver (kubeconfig), and access entries through the EKS
emulator (kubeconfig for Kubernetes + `eks:` for the AWS calls, `mapping: auto` in API mode).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client

from bot.adapters.slack.ids import Action
from tests.e2e.conftest import ALICE, ALICE_ARN, CAROL, DAVE, DAVE_ARN, list_pods_status
from tests.e2e.test_grant_story import click, last_response, request_id
from tests.support.authenticator import EksCluster
from tests.support.bot import BotProcess
from tests.support.eks_emulator import EksEmulator
from tests.support.kube_objects import data_of
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.kube]

FRANK, GRACE, HENRY = "U0FRANK", "U0GRACE", "U0HENRY"
HENRY_EMAIL = "henry@example.com"
SSO_ROLE = "arn:aws:iam::111122223333:role/AWSReservedSSO_EKSUsers_0123456789abcdef"
FRANK_SESSION, GRACE_SESSION = "frank@example.com", "grace@example.com"
EKS_REGION, EKS_ACCOUNT = "eu-west-1", "123456789012"  # the bot's (moto's default) account


def sso_people(policy: dict[str, Any]) -> None:
    """Frank and Grace share the IAM Identity Center role, each with their own session."""
    policy["identities"][FRANK] = {"arn": SSO_ROLE, "session": FRANK_SESSION}
    policy["identities"][GRACE] = (
        f"arn:aws:sts::111122223333:assumed-role/{SSO_ROLE.rsplit('/', 1)[1]}/{GRACE_SESSION}"
    )


def grant(bot: BotProcess, user: str, text: str) -> str:
    before = len(bot.stub.responses())
    bot.slack.command(user, text)
    answer = last_response(bot, before)
    match = re.search(r"Request `([a-z2-9]{8})`", answer)
    assert match, answer
    grant_id = match.group(1)
    assert "Approved" in click(bot, CAROL, Action.APPROVE_GRANT, grant_id)
    return grant_id


def revoke(bot: BotProcess, user: str, grant_id: str) -> None:
    before = len(bot.stub.responses())
    bot.slack.command(user, f"revoke {grant_id}")
    assert "revoked" in last_response(bot, before)


def lists(
    kube_env, arn: str, session: str | None = None, ns: str = "default"
) -> Callable[[], bool]:
    return lambda: list_pods_status(kube_env, arn, session, ns) == 200


def refused(kube_env, arn: str, session: str | None = None, ns: str = "default") -> bool:
    return list_pods_status(kube_env, arn, session, ns) in (401, 403)


def active_dm(bot: BotProcess, user: str) -> str:
    return bot.stub.wait_for(
        lambda: [t for t in bot.stub.texts(channel=user) if "is active until" in t],
        what="the active DM",
    )[-1]


# -- aws-auth ----------------------------------------------------------------------------------


@pytest.fixture
def aws_auth_bot(aws_auth_reset, sqlite_url: str, make_bot) -> Iterator[BotProcess]:
    bot = make_bot(sqlite_url, edit_policy=sso_people)
    bot.start()
    yield bot


def test_iam_user_and_role_through_aws_auth(aws_auth_bot: BotProcess, kube_env) -> None:
    assert refused(kube_env, ALICE_ARN)
    alice = grant(aws_auth_bot, ALICE, "grant pods-read 1h ns=default")
    wait_until(lists(kube_env, ALICE_ARN), 10, "alice lists pods")
    dave = grant(aws_auth_bot, DAVE, "grant payments-view 1h")
    # A role without a session in the policy: any session of it is Dave.
    wait_until(lists(kube_env, DAVE_ARN, "dave", "payments"), 10, "dave lists pods")
    assert refused(kube_env, DAVE_ARN, "dave", "default")  # the profile's namespace only

    revoke(aws_auth_bot, ALICE, alice)
    revoke(aws_auth_bot, DAVE, dave)
    assert refused(kube_env, ALICE_ARN)
    assert refused(kube_env, DAVE_ARN, "dave", "payments")


def test_sso_session_through_an_administrator_s_templated_aws_auth_entry(
    aws_auth_bot: BotProcess, kube_env, aws_auth_reset
) -> None:
    core = client.CoreV1Api(kube_env.admin_api_client())
    cm = core.read_namespaced_config_map("aws-auth", "kube-system")
    data_of(cm)["mapRoles"] += f"- rolearn: {SSO_ROLE}\n  username: sso:{{{{SessionName}}}}\n"
    core.replace_namespaced_config_map("aws-auth", "kube-system", cm)
    admin_entries = dict(data_of(cm))
    assert refused(kube_env, SSO_ROLE, FRANK_SESSION) and refused(kube_env, SSO_ROLE, GRACE_SESSION)

    grant_id = grant(aws_auth_bot, FRANK, "grant pods-read 1h ns=default")
    wait_until(lists(kube_env, SSO_ROLE, FRANK_SESSION), 10, "frank lists pods")
    assert refused(kube_env, SSO_ROLE, GRACE_SESSION), "a colleague on the role gained access"
    dm = active_dm(aws_auth_bot, FRANK)
    assert "sso:frank-example.com" in dm and FRANK_SESSION in dm and SSO_ROLE in dm
    after = core.read_namespaced_config_map("aws-auth", "kube-system").data
    assert after == admin_entries, "the administrator's entry must stay exactly as it was"

    revoke(aws_auth_bot, FRANK, grant_id)
    assert refused(kube_env, SSO_ROLE, FRANK_SESSION)
    assert refused(kube_env, SSO_ROLE, GRACE_SESSION)


def test_sso_session_through_the_bot_s_own_aws_auth_entry(
    aws_auth_bot: BotProcess, kube_env, aws_auth_reset
) -> None:
    grant_id = grant(aws_auth_bot, FRANK, "grant pods-read 1h ns=default")
    wait_until(lists(kube_env, SSO_ROLE, FRANK_SESSION), 10, "frank lists pods")
    assert refused(kube_env, SSO_ROLE, GRACE_SESSION), "a colleague on the role gained access"
    username = (
        "eks-access:111122223333:role/AWSReservedSSO_EKSUsers_0123456789abcdef:frank-example.com"
    )
    assert username in active_dm(aws_auth_bot, FRANK)
    revoke(aws_auth_bot, FRANK, grant_id)
    assert refused(kube_env, SSO_ROLE, FRANK_SESSION)
    core = client.CoreV1Api(kube_env.admin_api_client())
    assert core.read_namespaced_config_map("aws-auth", "kube-system").data == aws_auth_reset


# -- access entries ----------------------------------------------------------------------------


def eks_cluster(policy: dict[str, Any]) -> None:
    sso_people(policy)
    policy["clusters"][0]["eks"] = {"name": "dev", "region": EKS_REGION}


@pytest.fixture
def eks_dev(kube_env, fresh_eks: EksEmulator, moto_server, aws_auth_reset) -> Iterator[Any]:
    """EKS cluster `dev` in API mode; the authenticator model reads its access entries."""
    fresh_eks.add_cluster("dev", region=EKS_REGION, account=EKS_ACCOUNT, mode="API")
    kube_env.authenticator.use_eks(EksCluster("dev", fresh_eks.url, region=EKS_REGION))
    yield moto_server.session().client("eks", endpoint_url=fresh_eks.url, region_name=EKS_REGION)
    kube_env.authenticator.use_eks(None)


@pytest.fixture
def entries_bot(eks_dev, fresh_eks: EksEmulator, sqlite_url: str, make_bot) -> Iterator[BotProcess]:
    bot = make_bot(sqlite_url, edit_policy=eks_cluster)
    bot.env.update(fresh_eks.environ())
    bot.start()
    yield bot


def test_iam_user_and_sso_sessions_through_the_bot_s_access_entries(
    entries_bot: BotProcess, kube_env, fresh_eks: EksEmulator, aws_auth_reset
) -> None:
    alice = grant(entries_bot, ALICE, "grant pods-read 1h ns=default")
    frank = grant(entries_bot, FRANK, "grant pods-read 1h ns=default")
    wait_until(lists(kube_env, ALICE_ARN), 10, "alice lists pods")
    wait_until(lists(kube_env, SSO_ROLE, FRANK_SESSION), 10, "frank lists pods")
    assert refused(kube_env, SSO_ROLE, GRACE_SESSION), "a colleague on the role gained access"
    entries = fresh_eks.entries("dev")
    assert set(entries) == {ALICE_ARN, SSO_ROLE}
    assert entries[SSO_ROLE].username.endswith(":{{SessionName}}")
    assert all(e.tags == {"managed-by": "eks-access"} and not e.policies for e in entries.values())
    core = client.CoreV1Api(kube_env.admin_api_client())
    assert core.read_namespaced_config_map("aws-auth", "kube-system").data == aws_auth_reset

    revoke(entries_bot, ALICE, alice)
    revoke(entries_bot, FRANK, frank)
    assert refused(kube_env, ALICE_ARN) and refused(kube_env, SSO_ROLE, FRANK_SESSION)
    assert fresh_eks.entries("dev") == {}, "the bot's entries end with the last grant"


def test_one_entry_serves_every_session_of_a_role_and_ends_with_the_last_grant(
    entries_bot: BotProcess, kube_env, fresh_eks: EksEmulator
) -> None:
    frank = grant(entries_bot, FRANK, "grant pods-read 1h ns=default")
    wait_until(lists(kube_env, SSO_ROLE, FRANK_SESSION), 10, "frank lists pods")
    assert refused(kube_env, SSO_ROLE, GRACE_SESSION)
    grace = grant(entries_bot, GRACE, "grant pods-read 1h ns=default")
    wait_until(lists(kube_env, SSO_ROLE, GRACE_SESSION), 10, "grace lists pods")
    assert list(fresh_eks.entries("dev")) == [SSO_ROLE]

    revoke(entries_bot, FRANK, frank)
    assert refused(kube_env, SSO_ROLE, FRANK_SESSION)
    assert lists(kube_env, SSO_ROLE, GRACE_SESSION)(), "grace's grant must outlive frank's"
    assert list(fresh_eks.entries("dev")) == [SSO_ROLE]
    revoke(entries_bot, GRACE, grace)
    assert refused(kube_env, SSO_ROLE, GRACE_SESSION)
    assert fresh_eks.entries("dev") == {}


def test_a_role_and_the_cluster_s_sso_role_through_access_entries(
    eks_dev: Any, fresh_eks: EksEmulator, sqlite_url: str, make_bot, kube_env
) -> None:
    def with_sso_role(policy: dict[str, Any]) -> None:
        eks_cluster(policy)
        policy["clusters"][0]["sso_role"] = SSO_ROLE

    bot = make_bot(sqlite_url, edit_policy=with_sso_role)
    bot.env.update(fresh_eks.environ())
    bot.stub.emails[HENRY] = HENRY_EMAIL
    bot.start()
    dave = grant(bot, DAVE, "grant payments-view 1h")
    henry = grant(bot, HENRY, "grant pods-read 1h ns=default")  # no identity of his own
    wait_until(lists(kube_env, DAVE_ARN, "any-session", "payments"), 10, "dave lists pods")
    wait_until(lists(kube_env, SSO_ROLE, HENRY_EMAIL), 10, "henry lists pods")
    assert refused(kube_env, SSO_ROLE, GRACE_SESSION)
    assert "session `henry@example.com`" in active_dm(bot, HENRY)
    assert set(fresh_eks.entries("dev")) == {DAVE_ARN, SSO_ROLE}
    revoke(bot, DAVE, dave)
    revoke(bot, HENRY, henry)
    assert refused(kube_env, DAVE_ARN, "any-session", "payments")
    assert refused(kube_env, SSO_ROLE, HENRY_EMAIL)
    assert fresh_eks.entries("dev") == {}


def test_sso_session_through_an_administrator_s_access_entry(
    entries_bot: BotProcess, kube_env, eks_dev: Any, fresh_eks: EksEmulator
) -> None:
    eks_dev.create_access_entry(clusterName="dev", principalArn=SSO_ROLE)  # EKS's default name
    before = fresh_eks.entries("dev")
    grant_id = grant(entries_bot, FRANK, "grant pods-read 1h ns=default")
    wait_until(lists(kube_env, SSO_ROLE, FRANK_SESSION), 10, "frank lists pods")
    assert refused(kube_env, SSO_ROLE, GRACE_SESSION), "a colleague on the role gained access"
    username = "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_EKSUsers_0123456789abcdef/frank-example.com"
    assert username in active_dm(entries_bot, FRANK)
    revoke(entries_bot, FRANK, grant_id)
    assert refused(kube_env, SSO_ROLE, FRANK_SESSION)
    assert fresh_eks.entries("dev") == before, "the administrator's entry stays exactly as it was"


def test_reconcile_puts_back_the_bot_s_entry_and_removes_its_orphans(
    entries_bot: BotProcess, kube_env, eks_dev: Any, fresh_eks: EksEmulator
) -> None:
    grant(entries_bot, ALICE, "grant pods-read 1h ns=default")
    wait_until(lists(kube_env, ALICE_ARN), 10, "alice lists pods")
    eks_dev.delete_access_entry(clusterName="dev", principalArn=ALICE_ARN)
    orphan = "arn:aws:iam::111122223333:user/left-behind"
    eks_dev.create_access_entry(
        clusterName="dev",
        principalArn=orphan,
        username="eks-access:111122223333:user/left-behind",
        tags={"managed-by": "eks-access"},
    )
    foreign = "arn:aws:iam::111122223333:user/someone"
    eks_dev.create_access_entry(clusterName="dev", principalArn=foreign)
    wait_until(
        lambda: set(fresh_eks.entries("dev")) == {ALICE_ARN, foreign}, 15, "reconcile converges"
    )
    wait_until(lists(kube_env, ALICE_ARN), 10, "alice lists pods again")


def test_a_config_map_cluster_named_for_access_entries_fails_the_grant_with_a_reason(
    eks_dev: Any, fresh_eks: EksEmulator, sqlite_url: str, make_bot, kube_env
) -> None:
    fresh_eks.set_mode("dev", "CONFIG_MAP")

    def access_entries_only(policy: dict[str, Any]) -> None:
        eks_cluster(policy)
        policy["clusters"][0]["mapping"] = "access-entries"

    bot = make_bot(sqlite_url, edit_policy=access_entries_only)
    bot.env.update(fresh_eks.environ())
    bot.start()
    bot.slack.command(ALICE, "grant pods-read 1h ns=default")
    grant_id = request_id(bot)
    bot.slack.click(CAROL, str(Action.APPROVE_GRANT), grant_id)
    dm = bot.stub.wait_for(
        lambda: [t for t in bot.stub.texts(channel=ALICE) if "could not be applied" in t],
        what="the failure DM",
    )[0]
    assert "reads aws-auth only" in dm and "mapping: aws-auth" in dm
    assert fresh_eks.entries("dev") == {}
    assert refused(kube_env, ALICE_ARN)
    assert "Traceback" not in bot.log() or "unexpected error" in bot.log()
