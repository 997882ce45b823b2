"""`eks-access audit`: the export of a period and the trail of one request, run as the
installed command against an SQLite database the bot's own store and transitions wrote.
No Slack token, and nothing listens at SLACK_API_URL: a Slack call would fail."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.adapters.audit_export import COLUMNS
from bot.adapters.storage import migrate
from bot.adapters.storage.engine import make_engine
from bot.adapters.storage.repository import SqlGrantStore
from bot.domain import transitions
from bot.domain.grants import AuditEvent, Grant, MappedIdentity, MappedVia
from tests.adapters.test_cli import run
from tests.support.records import ALICE_ARN, a_request

NOW = datetime.now(UTC).replace(microsecond=0)
LEASE = timedelta(seconds=30)


request = a_request


@pytest.fixture
def database(tmp_path: Path) -> str:
    """Five requests: revoked and ended in the window; denied in it; requested before it and
    still active; pending; and one over before the window began (not exported)."""
    url = f"sqlite:///{tmp_path / 'eks-access.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    store = SqlGrantStore(engine)

    def create(grant: Grant) -> Grant:
        store.add_grant(
            grant, AuditEvent(grant.created_at, grant.requester, "request.created", grant.id)
        )
        return grant

    def step(transition: transitions.GrantTransition) -> Grant:
        after = store.apply(transition)
        assert after is not None
        return after

    mapped = MappedIdentity("eks-access:111122223333:user/alice", MappedVia.AWS_AUTH)
    t = NOW - timedelta(days=2)
    g = create(request("revoked2", t))
    g = step(transitions.approve(g, actor="U0CAROL", note="ok", now=t, lease=LEASE))
    g = step(transitions.activated(g, mapped=mapped, now=t + timedelta(seconds=2)))
    g = step(transitions.revoke(g, actor="U0ALICE", now=t + timedelta(minutes=20), lease=LEASE))
    step(transitions.end(g, now=t + timedelta(minutes=20, seconds=1)))

    t = NOW - timedelta(days=1)
    g = create(request("denied23", t, reason='=HYPERLINK("http://x")', profile="logs-read"))
    step(transitions.deny(g, actor="U0CAROL", note="-not now", now=t + timedelta(minutes=5)))

    t = NOW - timedelta(days=9)  # requested before the window, still held in it
    g = create(
        request("activeq2", t, duration=timedelta(days=10), session_name="alice@example.com")
    )
    g = step(transitions.approve(g, actor="U0CAROL", note="", now=t, lease=LEASE))
    step(transitions.activated(g, mapped=mapped, now=t + timedelta(seconds=2)))

    create(request("pending2", NOW - timedelta(hours=1), cluster="prod"))

    t = NOW - timedelta(days=30)  # over long before the window
    step(transitions.time_out(create(request("oldtimed", t)), now=t + timedelta(hours=4)))
    engine.dispose()
    return url


def audit(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run(
        "audit",
        *args,
        DATABASE_URL=url,
        SLACK_BOT_TOKEN="",
        SLACK_SIGNING_SECRET="",
        SLACK_API_URL="http://127.0.0.1:9/",
    )


def test_json_export_of_the_last_week(database: str) -> None:
    result = audit(database, "--since", "7d", "--format", "json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)  # the whole of stdout is one JSON document
    assert [r["id"] for r in rows] == ["activeq2", "revoked2", "denied23", "pending2"]
    assert all(list(r) == list(COLUMNS) for r in rows)
    revoked = rows[1]
    assert revoked["requester"] == "U0ALICE" and revoked["principal"] == ALICE_ARN
    assert revoked["kubernetes_username"] == "eks-access:111122223333:user/alice"
    assert (revoked["profile"], revoked["cluster"], revoked["namespace"]) == (
        "pods-read",
        "dev",
        "default",
    )
    assert revoked["status"] == "ended" and revoked["duration"] == "1h30m"
    assert revoked["decided_by"] == "U0CAROL" and revoked["decision_note"] == "ok"
    assert (revoked["ended_by"], revoked["end_reason"]) == ("U0ALICE", "revoked")
    assert revoked["mapped_via"] == "aws-auth"
    started = datetime.fromisoformat(revoked["created_at"])
    assert started == NOW - timedelta(days=2) and started.tzinfo is not None
    ended = datetime.fromisoformat(revoked["ended_at"])
    assert ended - started == timedelta(minutes=20, seconds=1)
    assert rows[0]["session"] == "alice@example.com" and rows[0]["ended_at"] is None
    assert rows[2]["status"] == "denied" and rows[2]["decision_note"] == "-not now"
    assert rows[3]["decided_by"] is None and rows[3]["cluster"] == "prod"
    assert "exported 4 grant(s) open since" in result.stderr  # the log: on stderr


def test_csv_export_from_a_date(database: str) -> None:
    since = (NOW - timedelta(days=1, hours=1)).date().isoformat()
    result = audit(database, "--since", since, "--format", "csv")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == ",".join(COLUMNS)
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == len(lines) - 1  # nothing but the table on stdout
    assert {r["id"] for r in rows} >= {"activeq2", "denied23", "pending2"}
    denied = next(r for r in rows if r["id"] == "denied23")
    # What requesters typed cannot run as a spreadsheet formula; empty cells for unknowns.
    assert denied["reason"] == '\'=HYPERLINK("http://x")'
    assert denied["decision_note"] == "'-not now"
    assert denied["activated_at"] == "" and denied["profile"] == "logs-read"
    assert "Traceback" not in result.stderr


def test_the_trail_of_one_request_and_an_unknown_id(database: str) -> None:
    trail = audit(database, "revoked2")
    assert trail.returncode == 0, trail.stderr
    actions = [line.split()[2] for line in trail.stdout.splitlines()]
    assert actions == [
        "request.created",
        "request.approved",
        "grant.activated",
        "grant.revoked",
        "grant.ended",
    ]
    unknown = audit(database, "zzzz2345")
    assert unknown.returncode == 1 and unknown.stdout == ""
    assert "There is no request `zzzz2345`." in unknown.stderr


@pytest.mark.parametrize(
    ("args", "sentence"),
    [
        (["--since", "yesterday"], "--since `yesterday` is neither a duration (7d, 12h, 1h30m)"),
        (["--since", "0s"], "--since `0s` is zero"),
        (["--since", "2026-02-30"], "--since `2026-02-30` is not a date"),
        (["--since", "2999-01-01"], "--since `2999-01-01` is in the future"),
        ([], "give a request id, or --since for an export."),
        (["revoked2", "--since", "7d"], "give a request id or --since, not both."),
        (["revoked2", "--format", "csv"], "--format is for the --since export"),
    ],
)
def test_bad_arguments_get_a_sentence_and_status_2(
    database: str, args: list[str], sentence: str
) -> None:
    result = audit(database, *args)
    assert result.returncode == 2 and result.stdout == ""
    assert sentence in result.stderr and "Traceback" not in result.stderr


def test_a_database_without_the_bot_s_tables_is_named_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "typo.db"
    result = audit(f"sqlite:///{missing}", "--since", "7d")
    assert result.returncode == 1 and result.stdout == ""
    assert "holds no eks-access tables (`eks-access migrate` creates them)" in result.stderr
    assert not missing.exists()
