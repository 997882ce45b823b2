"""EKS_ACCESS_LOG_FORMAT=json, run as the installed command on SQLite and the example policy
(whose cluster's kubeconfig does not exist): every line on stderr is a JSON object."""

from __future__ import annotations

import json
import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from bot.adapters.storage.engine import make_engine
from bot.adapters.storage.repository import SqlGrantStore
from bot.domain import transitions
from bot.domain.grants import AuditEvent
from tests.adapters.test_cli import EXAMPLE, run
from tests.adapters.test_cli_audit import request

TEXT_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ [\w.-]+: .*")


def json_lines(stderr: str) -> list[dict[str, Any]]:
    """Every line parsed (a line that is not JSON fails the test), each with the three
    fields every line has."""
    parsed = [json.loads(line) for line in stderr.splitlines()]
    for line in parsed:
        assert isinstance(line, dict) and {"time", "level", "logger", "message"} <= set(line)
    return parsed


def in_json(*args: str, policy: Path = EXAMPLE, **env: str) -> subprocess.CompletedProcess[str]:
    return run(*args, policy=policy, EKS_ACCESS_LOG_FORMAT="json", SLACK_BOT_TOKEN="", **env)


def seed(url: str) -> None:
    """A request nobody decided in time, and an approved grant whose activation is due on a
    cluster the bot cannot load (the sweep abandons it and owes the alert channel a word)."""
    engine = make_engine(url)
    store = SqlGrantStore(engine)
    long_ago = datetime.now(UTC) - timedelta(days=1)
    for grant_id in ("timedout", "approved"):
        grant = request(grant_id, long_ago, duration=timedelta(hours=1))
        store.add_grant(grant, AuditEvent(long_ago, "U0ALICE", "request.created", grant_id))
    approve = transitions.approve(
        grant, actor="U0CAROL", note="", now=datetime.now(UTC), lease=timedelta(0)
    )
    assert store.apply(approve) is not None
    engine.dispose()


def test_migrate_and_sweep_write_json_lines_that_name_the_grant(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'eks-access.db'}"
    migrated = in_json("migrate", DATABASE_URL=url)
    assert migrated.returncode == 0, migrated.stderr
    assert migrated.stdout == ""  # a release phase's output is all JSON
    lines = json_lines(migrated.stderr)
    assert {line["logger"] for line in lines} == {"alembic.runtime.migration", "eks-access"}
    assert lines[-1]["message"] == "database schema is up to date"

    seed(url)
    swept = in_json("sweep", DATABASE_URL=url)
    assert swept.returncode == 0, swept.stderr
    (report,) = swept.stdout.splitlines()  # one line: the report
    assert json.loads(report)["timed_out"] == 1
    lines = json_lines(swept.stderr)
    failed = next(line for line in lines if "could not be applied" in line["message"])
    assert failed["level"] == "WARNING" and failed["logger"] == "bot.services.activate"
    assert (failed["grant_id"], failed["actor"], failed["cluster"]) == ("approved", "system", "dev")
    timed_out = next(line for line in lines if "timed out undecided" in line["message"])
    assert timed_out["grant_id"] == "timedout"


def test_a_crash_is_one_json_line_with_its_traceback(tmp_path: Path) -> None:
    """A DATABASE_URL whose folder does not exist: the process stops, and says so in JSON."""
    result = in_json("migrate", DATABASE_URL=f"sqlite:///{tmp_path / 'no-such-dir' / 'x.db'}")
    assert result.returncode == 1
    (crash,) = [line for line in json_lines(result.stderr) if line["level"] == "CRITICAL"]
    assert crash["message"].startswith("eks-access stopped: (sqlite3.OperationalError) unable")
    assert crash["exc_info"].startswith("Traceback (most recent call last):")
    assert "sqlalchemy.exc.OperationalError" in crash["exc_info"]


def test_policy_problems_are_one_json_line(tmp_path: Path) -> None:
    doc = yaml.safe_load(EXAMPLE.read_text())
    doc["defaults"]["max_duration"] = "forever"
    bad = tmp_path / "policy.yaml"
    bad.write_text(yaml.safe_dump(doc))
    result = in_json("check-config", policy=bad)
    assert result.returncode == 2
    (line,) = json_lines(result.stderr)
    assert line["level"] == "ERROR" and line["message"].endswith("the policy has 1 problem(s)")
    assert line["problems"] == ["defaults.max_duration: `forever` is not a duration: use a number "
                                "and a unit, e.g. 30s, 15m, 2h, 1h30m or 1d."]  # fmt: skip


def test_a_log_format_the_bot_does_not_write_is_refused() -> None:
    result = run("check-config", EKS_ACCESS_LOG_FORMAT="logfmt")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == (
        "eks-access: EKS_ACCESS_LOG_FORMAT is 'logfmt': use `text` (the default) or `json`.\n"
    )


def test_text_is_the_default(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'eks-access.db'}"
    assert run("migrate", DATABASE_URL=url).returncode == 0
    seed(url)
    swept = run("sweep", DATABASE_URL=url, SLACK_BOT_TOKEN="", EKS_ACCESS_LOG_FORMAT="")
    assert swept.returncode == 0, swept.stderr
    lines = swept.stderr.splitlines()
    assert lines and all(TEXT_LINE.fullmatch(line) for line in lines), swept.stderr
    assert json.loads(swept.stdout)["timed_out"] == 1 and swept.stdout.count("\n") > 1


def test_audit_keeps_the_export_on_stdout_and_its_sentences_in_the_log(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'eks-access.db'}"
    assert in_json("migrate", DATABASE_URL=url).returncode == 0
    seed(url)
    exported = in_json("audit", "--since", "7d", DATABASE_URL=url)
    assert exported.returncode == 0, exported.stderr
    assert [row["id"] for row in json.loads(exported.stdout)] == ["approved", "timedout"]
    (done,) = json_lines(exported.stderr)
    assert done["message"].startswith("exported 2 grant(s) open since ")
    unknown = in_json("audit", "zzzz2345", DATABASE_URL=url)
    assert unknown.returncode == 1 and unknown.stdout == ""
    (refusal,) = json_lines(unknown.stderr)
    assert refusal["level"] == "ERROR"
    assert refusal["message"] == "eks-access audit: There is no request `zzzz2345`."
