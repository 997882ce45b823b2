"""The `eks-access` command as installed (`pip install .` provides it)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "policy.example.yaml"


def run(*args: str, policy: Path = EXAMPLE, **env: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("eks-access", path=str(Path(sys.executable).parent)) or "eks-access"
    return subprocess.run(
        [exe, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "EKS_ACCESS_POLICY": str(policy), **env},
    )


KUBECONFIG = {
    "apiVersion": "v1",
    "kind": "Config",
    "clusters": [{"name": "dev", "cluster": {"server": "https://127.0.0.1:6443"}}],
    "users": [{"name": "bot", "user": {"token": "t0ken"}}],
    "contexts": [{"name": "dev", "context": {"cluster": "dev", "user": "bot"}}],
    "current-context": "dev",
}


def a_kubeconfig(path: Path) -> Path:
    """A kubeconfig file the client can load (nothing listens at its server)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(KUBECONFIG))
    return path


def test_check_config_on_the_example_needs_its_kubeconfig(tmp_path: Path) -> None:
    """The example names kubectl's ~/.kube/config: missing, that is the one problem, with the
    path; once there, the example is OK as shipped."""
    missing = run("check-config", HOME=str(tmp_path))
    assert missing.returncode == 2 and missing.stdout == ""
    assert "the policy has 1 problem(s):" in missing.stderr
    assert (
        f"clusters[0].kubeconfig: ~/.kube/config ({tmp_path}/.kube/config) does not exist"
        in missing.stderr
    )
    a_kubeconfig(tmp_path / ".kube" / "config")
    result = run("check-config", HOME=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "OK — 1 profile(s), 1 cluster(s)" in result.stdout


def test_serve_refuses_to_start_without_its_kubeconfig(tmp_path: Path) -> None:
    """With the same sentence, before the database or Slack is touched."""
    db = tmp_path / "eks-access.db"
    result = run(
        "serve",
        HOME=str(tmp_path),
        DATABASE_URL=f"sqlite:///{db}",
        SLACK_BOT_TOKEN="xoxb-1",
        SLACK_SIGNING_SECRET="s",
        SLACK_API_URL="http://127.0.0.1:9/",  # nothing listens: a Slack call would fail
    )
    assert result.returncode == 2, result.stderr
    assert (
        f"clusters[0].kubeconfig: ~/.kube/config ({tmp_path}/.kube/config) does not exist"
        in result.stderr
    )
    assert "Traceback" not in result.stderr and not db.exists()


def test_check_config_lists_every_problem(tmp_path: Path) -> None:
    doc = yaml.safe_load(EXAMPLE.read_text())
    doc["profiles"]["pods-read"]["approvers"] = ["*"]
    doc["defaults"]["max_duration"] = "forever"
    bad = tmp_path / "policy.yaml"
    bad.write_text(yaml.safe_dump(doc))
    result = run("check-config", policy=bad)
    assert result.returncode == 2
    assert "the policy has 2 problem(s)" in result.stderr
    assert '"*" is not allowed for approvers' in result.stderr
    assert "defaults.max_duration: `forever` is not a duration" in result.stderr
    assert "Traceback" not in result.stderr


def test_plan_prints_the_exact_changes_and_touches_nothing(tmp_path: Path) -> None:
    result = run(
        "plan",
        "grant",
        "pods-read",
        "2h",
        "--user",
        "U0DAVE",
        "ns=default",
        DATABASE_URL=f"sqlite:///{tmp_path / 'never.db'}",
    )
    assert result.returncode == 0, result.stderr
    plan = yaml.safe_load(result.stdout)
    assert plan["aws-auth"]["key"] == "mapRoles"
    assert plan["aws-auth"]["add_entry_unless_mapped"] == {
        "rolearn": "arn:aws:iam::111122223333:role/dave-admin",
        "username": "eks-access:111122223333:role/dave-admin",
        "groups": [],
    }
    role, binding = plan["rbac"]
    assert role["kind"] == "Role" and role["rules"][0]["verbs"] == ["get", "list", "watch"]
    assert binding["subjects"][0]["name"] == "eks-access:111122223333:role/dave-admin"
    assert not (tmp_path / "never.db").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["pods-read", "9h", "--user", "U0ALICE"], "between 10s and 4h"),
        (["pods-read", "2h", "--user", "U0NOBODY"], "no IAM identity"),
        (["pods-read", "2h", "--user", "U0ALICE", "ns=kube-system"], "is not allowed"),
    ],
)
def test_plan_refuses_what_the_bot_would_refuse(args: list[str], message: str) -> None:
    result = run("plan", "grant", *args)
    assert result.returncode == 1 and message in result.stderr


def test_migrate_and_permissions(tmp_path: Path) -> None:
    result = run("migrate", DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite'}")
    assert result.returncode == 0 and "up to date" in result.stdout
    manifest = list(yaml.safe_load_all(run("permissions").stdout))
    assert {d["kind"] for d in manifest} == {"Role", "RoleBinding"}
    assert "*" not in str(manifest)


SSO_ROLE = "arn:aws:iam::111122223333:role/AWSReservedSSO_EKSUsers_0123456789abcdef"


def eks_policy(tmp_path: Path, **cluster: object) -> Path:
    doc = yaml.safe_load(EXAMPLE.read_text())
    doc["clusters"][0].update({"eks": {"name": "dev", "region": "eu-west-1"}, **cluster})
    doc["identities"]["U0FRANK"] = {"arn": SSO_ROLE, "session": "frank@example.com"}
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_plan_shows_the_access_entry_calls_for_one_person_on_a_shared_role(
    tmp_path: Path,
) -> None:
    policy = eks_policy(tmp_path, mapping="access-entries")
    result = run("plan", "grant", "pods-read", "2h", "--user", "U0FRANK", policy=policy)
    assert result.returncode == 0, result.stderr
    plan = yaml.safe_load(result.stdout)
    prefix = "eks-access:111122223333:role/AWSReservedSSO_EKSUsers_0123456789abcdef"
    assert plan["identity"] == {
        "principal": SSO_ROLE,
        "session": "frank@example.com",
        "signs_in_as": "arn:aws:sts::111122223333:assumed-role/"
        "AWSReservedSSO_EKSUsers_0123456789abcdef/frank@example.com",
        "username_unless_already_mapped": f"{prefix}:frank-example.com",
    }
    describe, create = plan["access-entry"]["calls"]
    assert describe == {"DescribeAccessEntry": {"clusterName": "dev", "principalArn": SSO_ROLE}}
    assert create["CreateAccessEntry (unless an entry exists)"] == {
        "clusterName": "dev",
        "principalArn": SSO_ROLE,
        "username": prefix + ":{{SessionName}}",
        "type": "STANDARD",
        "tags": {"managed-by": "eks-access"},
    }
    assert "aws-auth" not in plan
    assert plan["rbac"][1]["subjects"][0]["name"] == f"{prefix}:frank-example.com"


def test_plan_for_the_sso_role_needs_the_requester_s_email(tmp_path: Path) -> None:
    policy = eks_policy(tmp_path, sso_role=SSO_ROLE)
    refused = run("plan", "grant", "pods-read", "2h", "--user", "U0NEW", policy=policy)
    assert refused.returncode == 1 and "shows no email" in refused.stderr
    result = run(
        "plan", "grant", "pods-read", "2h", "--user", "U0NEW", "--email", "new@example.com",
        policy=policy,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    plan = yaml.safe_load(result.stdout)
    assert plan["identity"]["session"] == "new@example.com"
    assert {"aws-auth", "access-entry", "mapping"} <= set(plan)  # auto: the mode decides


def test_iam_policy_is_printed_for_the_policy_s_clusters(tmp_path: Path) -> None:
    policy = eks_policy(tmp_path, assume_role="arn:aws:iam::444455556666:role/eks-access")
    result = run("iam-policy", policy=policy)
    assert result.returncode == 0, result.stderr
    assert "sts:AssumeRole" in result.stdout and "arn:aws:iam::444455556666:role/eks-access" in (
        result.stdout
    )
    assert "arn:aws:eks:eu-west-1:444455556666:cluster/dev" in result.stdout
    assert '"*"' not in result.stdout


def test_check_aws_reports_each_cluster_s_mode_and_mapping(
    tmp_path: Path, moto_server, fresh_moto, fresh_eks
) -> None:
    fresh_eks.add_cluster("dev", region="eu-west-1", account="123456789012", mode="API")
    doc = yaml.safe_load(eks_policy(tmp_path).read_text())
    kubeconfig = str(a_kubeconfig(tmp_path / "kubeconfig"))
    doc["clusters"][0]["kubeconfig"] = kubeconfig
    doc["clusters"].append({"name": "ghost", "eks": {"name": "ghost", "region": "eu-west-1"}})
    doc["clusters"].append({"name": "plain", "kubeconfig": kubeconfig})
    policy = tmp_path / "three.yaml"
    policy.write_text(yaml.safe_dump(doc))
    env = {"AWS_ENDPOINT_URL": moto_server.url, "AWS_ENDPOINT_URL_EKS": fresh_eks.url}
    result = run("check-config", "--check-aws", policy=policy, **env)
    assert "cluster dev: authentication mode API; identities are mapped through access-entries" in (
        result.stdout
    )
    assert "cluster ghost: EKS cluster 'ghost' not found in region eu-west-1." in result.stdout
    assert (
        "cluster plain: authentication mode not an EKS cluster the bot asks; identities are "
        in (result.stdout)
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr


def test_sweep_and_audit_run_without_slack(tmp_path: Path) -> None:
    """The operator commands build the core alone: no Slack token, no Slack reachable. What the
    sweep owes people waits in the outbox."""
    from datetime import UTC, datetime, timedelta

    from bot.adapters.storage import migrate
    from bot.adapters.storage.engine import make_engine
    from bot.adapters.storage.repository import SqlGrantStore
    from bot.domain.grants import AuditEvent
    from tests.support.records import a_request

    url = f"sqlite:///{tmp_path / 'eks-access.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    long_ago = datetime.now(UTC) - timedelta(days=1)
    SqlGrantStore(engine).add_grant(
        a_request("abcd2345", long_ago, pending_until=long_ago + timedelta(hours=1)),
        AuditEvent(long_ago, "U0ALICE", "request.created", "abcd2345"),
    )
    engine.dispose()

    def without_slack(*args: str) -> subprocess.CompletedProcess[str]:
        # Nothing listens at SLACK_API_URL: a Slack call would fail.
        return run(
            *args,
            DATABASE_URL=url,
            SLACK_BOT_TOKEN="",
            SLACK_SIGNING_SECRET="",
            SLACK_API_URL="http://127.0.0.1:9/",
        )

    swept = without_slack("sweep")
    assert swept.returncode == 0, swept.stderr
    assert '"timed_out": 1' in swept.stdout
    engine = make_engine(url)
    owed = [o.notice.kind for o in SqlGrantStore(engine).owed(limit=10)]
    engine.dispose()
    messages = [kind for kind in owed if kind != "home_refresh"]  # the App Home's, besides
    assert messages == ["approval_updated", "request_timed_out"], "left for the running bot"
    assert "home_refresh" in owed
    audit = without_slack("audit", "abcd2345")
    assert audit.returncode == 0, audit.stderr
    assert "request.created" in audit.stdout and "request.timed_out" in audit.stdout
