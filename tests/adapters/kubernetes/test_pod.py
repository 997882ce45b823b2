"""The bot as its Deployment's pod: read-only root, its user, volumes and environment.

Run without a container runtime by tests/support/pod.py, the way the kubelet would run it;
the image is this machine's own root (the code and virtualenv under test), read-only.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import functools
import re
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from bot.domain.manifests import role_binding_manifest
from tests.adapters.kubernetes.conftest import pods_read_grant, principal
from tests.e2e.conftest import e2e_policy
from tests.support.bot import SIGNING_SECRET, free_port
from tests.support.kube import KubeEnv, running_in_ci
from tests.support.pod import Pod, pod_problem
from tests.support.shipped import (
    bot_pod_spec,
    dockerfile_stages,
    exec_form,
    healthcheck_argv,
    image_env,
    image_user_home,
    instruction,
    literal_env,
)
from tests.support.slack_stub import SlackStub


@pytest.fixture
def slack_stub() -> Iterator[SlackStub]:
    stub = SlackStub()
    yield stub
    stub.close()


@pytest.fixture
def can_run_pods() -> None:
    problem = pod_problem()
    if problem:
        if running_in_ci():
            pytest.fail(f"CI runs the bot's pod: {problem}", pytrace=False)
        pytest.skip(problem)


def inline_kubeconfig(path: str) -> str:
    """The kubeconfig with its CA inline, as one kept in a Secret is."""
    config = yaml.safe_load(Path(path).read_text())
    for entry in config["clusters"]:
        ca = Path(entry["cluster"].pop("certificate-authority")).read_bytes()
        entry["cluster"]["certificate-authority-data"] = base64.b64encode(ca).decode()
    return yaml.safe_dump(config)


def bot_pod(
    scratch: Path, kube_env: KubeEnv, database_url: str, stub: SlackStub, *, tmp: bool = True
) -> Pod:
    """The Deployment's pod, as shipped but for its cluster: the shipped policy names EKS
    clusters, reached through AWS; here the policy names the test apiserver, through a
    kubeconfig mounted from a Secret."""
    spec = copy.deepcopy(bot_pod_spec())
    (container,) = spec["containers"]
    spec["volumes"].append({"name": "kube", "secret": {"secretName": "eks-access-kubeconfig"}})
    container["volumeMounts"].append(
        {"name": "kube", "mountPath": "/etc/eks-access-kube", "readOnly": True}
    )
    if not tmp:
        container["volumeMounts"] = [m for m in container["volumeMounts"] if m["name"] != "tmp"]
    final = dockerfile_stages()[-1]
    policy_file = Path(literal_env(container)["EKS_ACCESS_POLICY"]).name
    return Pod(
        pod_spec=spec,
        objects={
            "eks-access-policy": {
                policy_file: yaml.safe_dump(e2e_policy("/etc/eks-access-kube/config"))
            },
            "eks-access-kubeconfig": {"config": inline_kubeconfig(kube_env.bot_kubeconfig)},
            "eks-access": {
                "SLACK_BOT_TOKEN": "xoxb-test",
                "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "DATABASE_URL": database_url,
            },
        },
        argv=exec_form(instruction(final, "CMD")[0]),
        workdir=instruction(final, "WORKDIR")[0],
        home=image_user_home(),
        scratch=scratch,
        image_env=image_env(),
        env_overrides={
            "PORT": str(free_port()),  # the host's network: a free port, not 3000
            "SLACK_API_URL": stub.url,
            "EKS_ACCESS_RECONCILE_INTERVAL": "1",
        },
    )


def wait_healthy(pod: Pod, log: Path, timeout: float = 60) -> None:
    url = f"http://127.0.0.1:{pod.env()['PORT']}/healthz"
    deadline = time.monotonic() + timeout
    assert pod.process is not None
    while time.monotonic() < deadline:
        if pod.process.poll() is not None:
            pytest.fail(f"the pod's process exited:\n{log.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"the pod did not become healthy:\n{log.read_text(errors='replace')}")


def orphan_binding(kube_env: KubeEnv) -> str:
    """A RoleBinding of the bot's for a grant the database does not know: reconcile deletes it."""
    doc = role_binding_manifest(pods_read_grant("orphan01", principal("dev-orphan"), "default"))
    client.RbacAuthorizationV1Api(kube_env.admin_api_client()).create_namespaced_role_binding(
        "default", client.V1RoleBinding.model_validate(doc)
    )
    return str(doc["metadata"]["name"])


def binding_exists(kube_env: KubeEnv, name: str) -> bool:
    rbac = client.RbacAuthorizationV1Api(kube_env.admin_api_client())
    try:
        rbac.read_namespaced_role_binding(name, "default")
        return True
    except client.ApiException as exc:
        if exc.status == 404:
            return False
        raise


@pytest.fixture
def make_pod(
    can_run_pods: None,
    kube_env: KubeEnv,
    aws_auth_reset: dict[str, str],
    postgres_url: str,
    slack_stub: SlackStub,
    tmp_path: Path,
) -> Callable[..., Pod]:
    """`bot_pod` on a fresh cluster, database schema and Slack stub."""
    return functools.partial(bot_pod, tmp_path, kube_env, postgres_url, slack_stub)


@contextlib.contextmanager
def running(pod: Pod, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The pod's process, healthy (/healthz 200), killed on the way out."""
    with log.open("ab") as out:
        process = pod.start(out)
    try:
        wait_healthy(pod, log)
        yield process
    finally:
        pod.stop()


def wait_for(condition: Callable[[], bool], timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.2)
    return condition()


@pytest.mark.kube
@pytest.mark.postgres
def test_the_bot_runs_as_its_pod_read_only_root_its_user_and_volumes(
    make_pod: Callable[..., Pod], kube_env: KubeEnv, tmp_path: Path
) -> None:
    pod = make_pod()
    orphan = orphan_binding(kube_env)
    log = tmp_path / "pod.log"
    healthcheck = healthcheck_argv()
    with running(pod, log) as process:
        status = Path(f"/proc/{process.pid}/status").read_text()
        uid = bot_pod_spec()["securityContext"]["runAsUser"]
        assert re.search(rf"^Uid:\s+{uid}\s+{uid}\s", status, re.M), "runs as its runAsUser"
        # The image's HEALTHCHECK, as Docker runs it: in the container's environment.
        assert subprocess.run(healthcheck, env=pod.env(), timeout=10).returncode == 0
        # Reconcile reaches the cluster from inside the pod and removes the bot's leftover.
        assert wait_for(lambda: not binding_exists(kube_env, orphan)), log.read_text()
        # On the way it wrote the kubeconfig's CA to a temporary file: into the emptyDir,
        # the one place it can write.
        assert list(pod.path_inside("/tmp").iterdir())
        with pytest.raises(OSError, match="Read-only file system"):
            pod.path_inside(f"{pod.workdir}/probe").write_text("the root is read-only")
    text = log.read_text(errors="replace")
    assert "Read-only file system" not in text and "Traceback" not in text, text
    assert subprocess.run(healthcheck, env=pod.env(), timeout=10).returncode != 0


@pytest.mark.kube
@pytest.mark.postgres
def test_without_the_tmp_emptydir_the_read_only_root_keeps_the_bot_off_its_clusters(
    make_pod: Callable[..., Pod], kube_env: KubeEnv, tmp_path: Path
) -> None:
    """Why the Deployment mounts /tmp: the kubernetes client puts a kubeconfig's inline
    certificates in temporary files, and a read-only root has nowhere else for them."""
    pod = make_pod(tmp=False)
    orphan = orphan_binding(kube_env)
    log = tmp_path / "pod.log"

    with running(pod, log):
        assert wait_for(lambda: "No usable temporary directory" in log.read_text()), log.read_text()

    assert "reconcile of dev skipped: Cannot load the kubeconfig" in log.read_text()
    assert binding_exists(kube_env, orphan)
