"""`eks-access serve` with EKS_ACCESS_LOG_FORMAT=json on real parts, holding secret-looking
values: every line it writes is JSON (waitress, Alembic, Python warnings included), the lines
of a click name its grant, actor and cluster, and no secret appears anywhere."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.adapters.slack.ids import Action
from tests.e2e.conftest import ALICE, CAROL, ERIN
from tests.e2e.test_grant_story import click, request_id
from tests.support.bot import SIGNING_SECRET, BotProcess

pytestmark = [pytest.mark.e2e, pytest.mark.kube, pytest.mark.postgres]

BOT_TOKEN = "xoxb-2718281828-3141592653-eKsAcCeSsBoTtOkEn"
DB_PASSWORD = "Pg-S3cret-Passw0rd"


def insecure_copy(kubeconfig: str, into: Path) -> str:
    """The bot's kubeconfig without its CA (`insecure-skip-tls-verify`), as dev clusters often
    are: urllib3 then warns at each unverified request, a real Python warning."""
    doc = yaml.safe_load(Path(kubeconfig).read_text())
    for entry in doc["clusters"]:
        entry["cluster"].pop("certificate-authority", None)
        entry["cluster"]["insecure-skip-tls-verify"] = True
    path = into / "insecure-kubeconfig"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def logged(bot: BotProcess) -> list[dict[str, Any]]:
    return [json.loads(line) for line in bot.log().splitlines()]


def wait_for_line(bot: BotProcess, match: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        found = [line for line in logged(bot) if match(line)]
        if found:
            return found[0]
        time.sleep(0.1)
    raise AssertionError(f"no such line in the log:\n{bot.log()[-3000:]}")


def test_serve_writes_json_lines_with_the_work_s_fields_and_no_secret(
    kube_env, aws_auth_reset, postgres_url: str, make_bot, tmp_path: Path
) -> None:
    with_password = postgres_url.replace("postgres@", f"postgres:{DB_PASSWORD}@", 1)
    assert DB_PASSWORD in with_password
    bot = make_bot(with_password, kubeconfig=insecure_copy(kube_env.bot_kubeconfig, tmp_path))
    bot.start(extra_env={"EKS_ACCESS_LOG_FORMAT": "json", "SLACK_BOT_TOKEN": BOT_TOKEN})

    bot.slack.command(ALICE, "grant pods-read 1h ns=default INC-7")
    grant_id = request_id(bot)
    bot.stub.fail("usergroups.users.list", 3)  # Slack cannot say who is on call (3 tries)
    assert "not an approver" in click(bot, ERIN, Action.APPROVE_GRANT, grant_id)
    assert f"Approved `{grant_id}`" in click(bot, CAROL, Action.APPROVE_GRANT, grant_id)

    group = wait_for_line(bot, lambda line: "members of user group S0ONCALL" in line["message"])
    assert (group["level"], group["logger"]) == ("WARNING", "bot.adapters.slack.directory")
    assert (group["grant_id"], group["actor"], group["cluster"]) == (grant_id, ERIN, "dev")
    warning = wait_for_line(bot, lambda line: line["logger"] == "py.warnings")
    assert warning["level"] == "WARNING" and "InsecureRequestWarning" in warning["message"]
    # Shown once, by whichever reached the cluster first: the reconcile pass or the approval.
    assert warning["cluster"] == "dev" and warning["actor"] in ("system", CAROL)
    bot.kill(signal.SIGTERM)

    lines = logged(bot)  # every line parses: stdout and stderr both
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    loggers = {line["logger"] for line in lines}
    assert {"waitress", "alembic.runtime.migration", "eks-access"} <= loggers
    text = bot.log()
    for secret in (BOT_TOKEN, SIGNING_SECRET, DB_PASSWORD):
        assert secret not in text
