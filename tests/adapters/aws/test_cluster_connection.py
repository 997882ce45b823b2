"""Connecting to an EKS cluster named in the policy, through moto's server."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.adapters.clusters import ClusterFacts, cluster_facts, connect, connect_with_facts
from bot.domain.clock import SystemClock
from bot.domain.errors import PermanentError
from bot.domain.policy import ClusterConfig, MappingMode
from bot.domain.principals import Identity

CLUSTER = ClusterConfig(name="prod", eks_name="prod", eks_region="eu-west-1")


@pytest.mark.parametrize(
    ("setting", "mode", "mapping"),
    [
        ("auto", "API", "access-entries"),
        ("auto", "API_AND_CONFIG_MAP", "access-entries"),
        ("auto", "CONFIG_MAP", "aws-auth"),
        ("auto", None, "aws-auth"),  # moto and clusters from before access entries do not say
        ("aws-auth", "API_AND_CONFIG_MAP", "aws-auth"),
        ("aws-auth", "CONFIG_MAP", "aws-auth"),
        ("access-entries", "API", "access-entries"),
        ("access-entries", "API_AND_CONFIG_MAP", "access-entries"),
    ],
)
def test_the_mapping_follows_the_setting_and_the_authentication_mode(
    setting: MappingMode, mode: str | None, mapping: str
) -> None:
    assert replace(CLUSTER, mapping=setting).mapping_for(mode) == mapping


@pytest.mark.parametrize(
    ("setting", "mode", "sentence"),
    [
        ("aws-auth", "API", "reads access entries only .* Set `mapping: access-entries`"),
        ("access-entries", "CONFIG_MAP", "reads aws-auth only .* Set `mapping: aws-auth`"),
    ],
)
def test_a_mapping_the_cluster_ignores_is_refused_with_a_reason(
    setting: MappingMode, mode: str, sentence: str
) -> None:
    with pytest.raises(PermanentError, match=sentence):
        replace(CLUSTER, mapping=setting).mapping_for(mode)


def test_unknown_eks_cluster_is_a_permanent_error(moto_server, fresh_moto, monkeypatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.url)
    with pytest.raises(PermanentError, match="not found"):
        connect(
            ClusterConfig(name="ghost", eks_name="ghost", eks_region="eu-west-1"), SystemClock()
        )


def test_two_clusters_in_two_accounts_each_reached_with_its_own_credentials(
    moto_server, fresh_moto, fresh_eks, monkeypatch, tmp_path
) -> None:
    """Cluster `home` in the bot's account; `away` in another, behind `assume_role`. The EKS
    emulator serves a cluster only to credentials of its own account (moto's STS says whose
    a key is), so reaching `away` at all proves the assumed credentials were used."""
    from moto.sts.models import sts_backends

    away_account, role = "210987654321", "arn:aws:iam::210987654321:role/eks-access-bot"
    fresh_eks.add_cluster("home", region="eu-west-1", account="123456789012", mode="CONFIG_MAP")
    fresh_eks.add_cluster("away", region="eu-west-1", account=away_account, mode="API")
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", moto_server.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_EKS", fresh_eks.url)
    kubeconfig = tmp_path / "kubeconfig"  # Kubernetes is not called in this test
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\n"
    )
    home = ClusterConfig(
        name="home", eks_name="home", eks_region="eu-west-1", kubeconfig=str(kubeconfig)
    )
    away = replace(home, name="away", eks_name="away", assume_role=role, external_id="x-42")

    assert cluster_facts(home) == ClusterFacts("CONFIG_MAP", "aws-auth")
    assert cluster_facts(away) == ClusterFacts("API", "access-entries")
    with pytest.raises(PermanentError, match="not found"):  # `away` is not in the bot's account
        cluster_facts(replace(away, assume_role=None, external_id=None))

    gateway, facts = connect_with_facts(away, SystemClock())
    alice = Identity.parse("arn:aws:iam::111122223333:user/alice")
    assert facts == ClusterFacts("API", "access-entries")
    assert gateway.ensure_mapping(alice).username == alice.owned_username
    assert set(fresh_eks.entries("away", account=away_account)) == {alice.principal.arn}

    seen = {(c.cluster, c.account) for c in fresh_eks.calls}
    assert seen == {("home", "123456789012"), ("away", away_account), ("away", "123456789012")}
    assumed = list(sts_backends[away_account]["aws"].assumed_roles)
    assert {(a.role_arn, a.external_id) for a in assumed} == {(role, "x-42")}
