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


def test_check_config_accepts_the_example() -> None:
    result = run("check-config")
    assert result.returncode == 0, result.stderr
    assert "OK — 1 profile(s), 1 cluster(s)" in result.stdout


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
