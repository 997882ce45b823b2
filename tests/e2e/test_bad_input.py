"""Every bad input through the real endpoint: a clear sentence, and nothing changes."""

from __future__ import annotations

import time

import pytest

from bot.adapters.slack.ids import Action
from tests.e2e.conftest import ALICE, BOTH_TRANSPORTS, CAROL
from tests.support.bot import BotProcess, sign

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.kube,
    # The storage is not what these prove; the story tests cover both databases.
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

CASES = [
    ("grant nope 2h", "There is no profile `nope`. Profiles you may request: `pods-read`"),
    ("grant pods-read", "For how long?"),
    ("grant pods-read 2x", "`2x` is not a duration: use a number and a unit"),
    ("grant pods-read 0s", "`0s` is zero"),
    ("grant pods-read -1h", "`-1h` is not a duration"),
    ("grant pods-read 5h", "`5h` is outside what `pods-read` allows: between 10s and 4h"),
    ("grant pods-read 99999999h", "is not a duration"),
    (
        "grant pods-read 2h ns=kube-system",
        "Namespace `kube-system` is not allowed for `pods-read`; allowed: `default`",
    ),
    ("grant pods-read 2h ns=Bad_NS", "`bad_ns` is not a valid namespace name"),
    ("grant payments-view 1h", "You may not request `payments-view`"),
    ("frobnicate", "`frobnicate` is not a command"),
    ("revoke", "Which request?"),
    ("revoke ../../etc", "is not a request id"),
    ("revoke zzzzzzzz", "There is no request `zzzzzzzz`"),
    ("extend zzzzzzzz 1h", "There is no request `zzzzzzzz`"),
]


@BOTH_TRANSPORTS
def test_each_bad_command_gets_its_sentence_and_nothing_is_stored(bot: BotProcess) -> None:
    for text, expected in CASES:
        before = len(bot.stub.responses())
        status, _ = bot.slack.command(ALICE, text)
        assert status == 200, text
        answer = bot.stub.wait_for(lambda b=before: bot.stub.responses()[b:], what=text)[-1]
        assert expected.lower() in answer.lower(), (text, answer)
        assert "Traceback" not in answer
    assert bot.stub.texts(channel="C0APPROVALS") == []


def test_no_identity(bot: BotProcess) -> None:
    bot.slack.command("U0NOBODY", "grant pods-read 1h")
    answer = bot.stub.wait_for(lambda: bot.stub.responses(), what="answer")[-1]
    assert "You have no IAM identity in the policy" in answer and "U0NOBODY" in answer


def test_help_and_profiles(bot: BotProcess) -> None:
    bot.slack.command(ALICE, "help")
    bot.slack.command(ALICE, "profiles")
    answers = bot.stub.wait_for(lambda: len(bot.stub.responses()) >= 2 and bot.stub.responses())
    joined = "\n".join(answers)
    assert "/eks-access grant <profile> <duration>" in joined
    assert "*pods-read*" in joined and "payments-view" not in joined


@BOTH_TRANSPORTS
def test_forged_button_values(bot: BotProcess) -> None:
    for value in ("zzzzzzzz", "'; DROP TABLE grants;--", ""):
        before = len(bot.stub.responses())
        bot.slack.click(CAROL, str(Action.APPROVE_GRANT), value)
        answer = bot.stub.wait_for(lambda b=before: bot.stub.responses()[b:])[-1]
        assert "no request" in answer or "does not name a valid request" in answer


@pytest.mark.parametrize(
    "tamper",
    ["bad-signature", "no-signature", "stale", "future"],
)
def test_unsigned_or_stale_requests_are_refused_and_do_nothing(
    bot: BotProcess, tamper: str
) -> None:
    form = bot.slack.command_form(ALICE, "grant pods-read 1h")
    now = int(time.time())
    kwargs: dict = {}
    if tamper == "bad-signature":
        kwargs["signature"] = "v0=" + "0" * 64
    elif tamper == "no-signature":
        kwargs["signature"] = ""
    elif tamper == "stale":
        kwargs["timestamp"] = now - 301
    else:
        kwargs["timestamp"] = now + 301
    status, _ = bot.slack.send(form, **kwargs)
    assert status == 401
    time.sleep(0.3)
    assert bot.stub.responses() == [] and bot.stub.texts(channel="C0APPROVALS") == []


def test_signature_is_over_the_exact_body(bot: BotProcess) -> None:
    import urllib.parse

    from tests.support.bot import post

    form = bot.slack.command_form(ALICE, "grant pods-read 1h")
    ts = int(time.time())
    signature = sign(urllib.parse.urlencode(form), ts)
    form["text"] = "grant pods-read 4h"  # body changed after signing
    status, _ = post(
        bot.slack.url,
        urllib.parse.urlencode(form),
        {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": str(ts),
            "X-Slack-Signature": signature,
        },
    )
    assert status == 401


def test_healthz(bot: BotProcess) -> None:
    assert bot.healthz() == 200
