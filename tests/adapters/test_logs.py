"""The log handler: JSON lines with the grant, actor and cluster of the work in progress, the
text lines of before, and secrets masked in both. Each test logs through its own logger."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any

import pytest

from bot.adapters.logs import log_handler
from bot.adapters.slack.app import work_pool
from bot.config import Settings, SettingsError
from bot.services.log_context import current, note, scope


@pytest.fixture
def logged() -> Iterator[tuple[logging.Logger, io.StringIO, list[logging.Handler]]]:
    out = io.StringIO()
    logger = logging.getLogger(f"test-logs-{id(out)}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    handlers: list[logging.Handler] = []
    yield logger, out, handlers
    for handler in handlers:
        logger.removeHandler(handler)


def attach(
    fixture: tuple[logging.Logger, io.StringIO, list[logging.Handler]],
    log_format: str,
    secrets: tuple[str, ...] = (),
) -> tuple[logging.Logger, io.StringIO]:
    logger, out, handlers = fixture
    handler = log_handler(log_format, secrets=secrets, stream=out)
    logger.addHandler(handler)
    handlers.append(handler)
    return logger, out


def lines(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_a_json_line_names_the_grant_the_actor_and_the_cluster(logged: Any) -> None:
    logger, out = attach(logged, "json")
    logger.info("before any work")
    with scope(actor="U0CAROL"):
        logger.info("a click arrives")
        note(grant_id="abcd2345", cluster="dev")  # the use case has read the grant
        logger.warning("cannot read members of user group %s", "S0ONCALL")
        logger.info("said explicitly", extra={"grant_id": "other234"})
    logger.info("after the work")
    before, click, warning, explicit, after = lines(out)
    assert {"time", "level", "logger", "message"} <= set(before)
    assert not {"grant_id", "actor", "cluster"} & set(before)
    assert click["actor"] == "U0CAROL" and "grant_id" not in click
    assert warning["level"] == "WARNING" and warning["logger"] == logger.name
    assert warning["message"] == "cannot read members of user group S0ONCALL"
    assert (warning["grant_id"], warning["actor"], warning["cluster"]) == (
        "abcd2345",
        "U0CAROL",
        "dev",
    )
    assert explicit["grant_id"] == "other234"  # extra= at the call wins
    assert not {"grant_id", "actor", "cluster"} & set(after)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", before["time"])


def test_a_traceback_is_a_field_of_its_line(logged: Any) -> None:
    logger, out = attach(logged, "json")
    try:
        raise KeyError("missing")
    except KeyError:
        logger.exception("sweep step failed")
    (line,) = lines(out)
    assert line["level"] == "ERROR" and line["message"] == "sweep step failed"
    assert line["exc_info"].startswith("Traceback (most recent call last):")
    assert "KeyError: 'missing'" in line["exc_info"]


def test_text_stays_as_it_was(logged: Any) -> None:
    logger, out = attach(logged, "text")
    with scope(grant_id="abcd2345", actor="system", cluster="dev"):
        logger.warning("not delivered")
    assert re.fullmatch(
        rf"\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d,\d{{3}} WARNING {logger.name}: not delivered\n",
        out.getvalue(),
    )


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_secrets_are_masked_wherever_they_appear(logged: Any, log_format: str) -> None:
    token, password = "xoxb-1111-2222-SeCrEt", 'pa"ss\\word-42'
    logger, out = attach(logged, log_format, secrets=(token, password, "short"))
    logger.info("calling with %s", token)
    try:
        raise RuntimeError(f"connection to postgresql://eks:{password}@db failed")
    except RuntimeError:
        logger.exception("database")
    logger.info("a short value is left alone: short")
    text = out.getvalue()
    assert "SeCrEt" not in text and "ss\\word" not in text and "ss\\\\word" not in text
    assert text.count("***") == 2  # the message, and the exception under the traceback
    assert "left alone: short" in text


def test_scopes_end_with_their_block_and_notes_outside_them_do_nothing() -> None:
    note(grant_id="abcd2345")
    assert current() == {}
    with scope(actor="U0ALICE"):
        with scope(grant_id="abcd2345"):
            assert current() == {"actor": "U0ALICE", "grant_id": "abcd2345"}
        assert current() == {"actor": "U0ALICE"}
    assert current() == {}


def test_work_handed_to_a_pool_keeps_the_submitter_s_fields_and_not_the_reverse() -> None:
    pool = work_pool(1, "test")
    seen: list[dict[str, str]] = []

    def job(grant_id: str) -> None:
        note(grant_id=grant_id)
        seen.append(dict(current()))

    try:
        with scope(actor="U0CAROL"):
            first: Future[Any] = pool.submit(job, "abcd2345")
            first.result(timeout=5)
            assert current() == {"actor": "U0CAROL"}  # the job's note stayed in the job
        pool.submit(job, "efgh2345").result(timeout=5)  # submitted outside any scope
    finally:
        pool.shutdown()
    assert seen == [{"actor": "U0CAROL", "grant_id": "abcd2345"}, {"grant_id": "efgh2345"}]


def test_the_log_format_setting() -> None:
    assert Settings.from_env({}).log_format == "text"
    assert Settings.from_env({"EKS_ACCESS_LOG_FORMAT": "JSON"}).log_format == "json"
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"EKS_ACCESS_LOG_FORMAT": "logfmt"})
    assert (
        str(refused.value)
        == "EKS_ACCESS_LOG_FORMAT is 'logfmt': use `text` (the default) or `json`."
    )


def test_the_secrets_a_process_holds() -> None:
    settings = Settings.from_env(
        {
            "SLACK_BOT_TOKEN": "xoxb-1",
            "SLACK_SIGNING_SECRET": "s3",
            "DATABASE_URL": "postgresql://eks:p%40ss@db/eks",
        }
    )
    assert settings.secrets() == ("xoxb-1", "s3", "p%40ss", "p@ss")
    assert Settings.from_env({}).secrets() == ()
