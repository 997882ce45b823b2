"""The kubeconfig files a policy names, checked on real files: each problem is one sentence
naming the cluster's place in the policy and the path; what passes, the client can load."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from kubernetes.config import ConfigException

from bot.adapters.kubeconfigs import check_kubeconfigs, kubeconfig_problems
from bot.adapters.kubernetes.connection import api_client_from_kubeconfig
from bot.domain.policy import ClusterConfig, Policy
from bot.policy_problems import PolicyError

KUBECONFIG = {
    "apiVersion": "v1",
    "kind": "Config",
    "clusters": [{"name": "dev", "cluster": {"server": "https://127.0.0.1:6443"}}],
    "users": [{"name": "bot", "user": {"token": "t0ken"}}],
    "contexts": [
        {"name": "dev", "context": {"cluster": "dev", "user": "bot"}},
        {"name": "other", "context": {"cluster": "dev", "user": "bot"}},
    ],
    "current-context": "dev",
}


def policy(*clusters: ClusterConfig) -> Policy:
    return Policy(approval_channel="C0APPROVALS", clusters=clusters, identities={}, profiles={})


def kubeconfig(tmp_path: Path, **changes: object) -> str:
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump({**KUBECONFIG, **changes}))
    return str(path)


def problem_of(cluster: ClusterConfig) -> str:
    (problem,) = kubeconfig_problems(policy(ClusterConfig("ok", kubeconfig=None), cluster))
    return problem


def test_a_loadable_kubeconfig_passes_and_the_client_loads_it(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path)
    for context in (None, "other"):
        assert kubeconfig_problems(policy(ClusterConfig("dev", path, context))) == []
        api_client_from_kubeconfig(path, context).close()


def test_a_missing_kubeconfig_is_named_with_its_path(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope" / "kubeconfig")
    assert problem_of(ClusterConfig("dev", missing)) == (
        f"clusters[1].kubeconfig: {missing} does not exist"
    )
    with pytest.raises(PolicyError) as raised:
        check_kubeconfigs(policy(ClusterConfig("dev", missing)))
    assert raised.value.problems == [f"clusters[0].kubeconfig: {missing} does not exist"]


def test_a_tilde_is_expanded_as_the_client_expands_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    cluster = ClusterConfig("dev", "~/.kube/config")
    assert problem_of(cluster) == (
        f"clusters[1].kubeconfig: ~/.kube/config ({tmp_path}/.kube/config) does not exist"
    )
    (tmp_path / ".kube").mkdir()
    (tmp_path / ".kube" / "config").write_text(yaml.safe_dump(KUBECONFIG))
    assert kubeconfig_problems(policy(cluster)) == []
    api_client_from_kubeconfig("~/.kube/config").close()


@pytest.mark.parametrize(
    ("content", "ending"),
    [
        ("clusters: [\n", "is not valid YAML: while parsing a flow node"),
        ("", "is not a kubeconfig (a YAML mapping of clusters, contexts and users)"),
        ("- just\n- a list\n", "is not a kubeconfig (a YAML mapping of clusters, contexts and"),
        (b"\x1f\x8b\x08\x00\xff", "is not a text file (UTF-8)"),
    ],
    ids=["broken-yaml", "empty", "a-list", "binary"],
)
def test_a_file_that_is_no_kubeconfig_is_named(
    tmp_path: Path, content: str | bytes, ending: str
) -> None:
    path = tmp_path / "kubeconfig"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    assert problem_of(ClusterConfig("dev", str(path))).startswith(
        f"clusters[1].kubeconfig: {path} {ending}"
    )


def test_unreadable_paths_say_why(tmp_path: Path) -> None:
    assert problem_of(ClusterConfig("dev", str(tmp_path))) == (
        f"clusters[1].kubeconfig: {tmp_path} is a directory, not a kubeconfig file"
    )
    a_file = Path(kubeconfig(tmp_path))
    assert problem_of(ClusterConfig("dev", f"{a_file}/config")) == (
        f"clusters[1].kubeconfig: {a_file}/config cannot be read: Not a directory"
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_a_kubeconfig_without_read_permission_says_so(tmp_path: Path) -> None:
    path = Path(kubeconfig(tmp_path))
    path.chmod(0)
    assert problem_of(ClusterConfig("dev", str(path))) == (
        f"clusters[1].kubeconfig: {path} cannot be read: Permission denied"
    )


def test_the_context_to_use_must_be_in_the_file(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path)
    assert problem_of(ClusterConfig("dev", path, "prod")) == (
        f"clusters[1].context: 'prod' is not a context of {path} (it has: dev, other)"
    )
    no_current = kubeconfig(tmp_path, **{"current-context": ""})
    assert problem_of(ClusterConfig("dev", no_current)) == (
        f"clusters[1].kubeconfig: {no_current} sets no current-context; name one of its "
        "contexts (dev, other) with `context:`"
    )
    stale = kubeconfig(tmp_path, **{"current-context": "gone"})
    assert problem_of(ClusterConfig("dev", stale)) == (
        f"clusters[1].kubeconfig: {stale} has current-context 'gone', which is not one of its "
        "contexts (dev, other)"
    )


@pytest.mark.parametrize(
    "changes",
    [{"contexts": [{"name": "dev"}], "current-context": "prod"}, {"current-context": ""}],
    ids=["context-missing", "no-current-context"],
)
def test_what_the_check_refuses_the_client_cannot_load(tmp_path: Path, changes: dict) -> None:
    path = kubeconfig(tmp_path, **changes)
    assert kubeconfig_problems(policy(ClusterConfig("dev", path)))
    with pytest.raises(ConfigException):
        api_client_from_kubeconfig(path)
