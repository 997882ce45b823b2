from datetime import timedelta

import pytest

from bot.domain.commands import (
    BreakGlassCommand,
    ExtendCommand,
    GrantCommand,
    HelpCommand,
    ListCommand,
    ProfilesCommand,
    RevokeCommand,
    parse_command,
)
from bot.domain.errors import Rejected


def test_grant_with_everything() -> None:
    assert parse_command(
        "grant pods-read 2h ns=payments cluster=prod looking at INC-42"
    ) == GrantCommand("pods-read", timedelta(hours=2), "payments", "prod", "looking at INC-42")


def test_options_after_the_reason_are_part_of_the_reason() -> None:
    command = parse_command("grant pods-read 2h because ns=payments is odd")
    assert isinstance(command, GrantCommand)
    assert command.namespace is None and command.reason == "because ns=payments is odd"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", HelpCommand()),
        ("help", HelpCommand()),
        ("LIST", ListCommand()),
        ("profiles", ProfilesCommand()),
        ("revoke k3x9p2ab", RevokeCommand("k3x9p2ab")),
        ("extend k3x9p2ab 1h", ExtendCommand("k3x9p2ab", timedelta(hours=1))),
    ],
)
def test_other_subcommands(text: str, expected: object) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("grant", "Which profile?"),
        ("grant pods-read", "For how long?"),
        ("grant pods-read 2 hours", "`2` is not a duration"),
        ("grant Pods_Read 2h", "not a valid profile name"),
        ("grant pods-read 2h ns=KUBE_SYSTEM", "not a valid namespace name"),
        ("grant pods-read 2h ns=", "not a valid namespace name"),
        ("grant pods-read 2h cluster=a.b", "not a valid cluster name"),
        ("extend k3x9p2ab", "For how long?"),
        ("extend 12 1h", "not a request id"),
        ("revoke", "Which request?"),
        ("delete everything", "`delete` is not a command"),
        ("grant pods-read 2h " + "x" * 501, "The reason is too long"),
    ],
)
def test_refusals_say_what_was_wrong(text: str, message: str) -> None:
    with pytest.raises(Rejected) as e:
        parse_command(text)
    assert message in str(e.value)


def test_control_characters_are_dropped_from_the_reason() -> None:
    command = parse_command("grant pods-read 2h hi\u202e\u0007there")
    assert isinstance(command, GrantCommand) and command.reason == "hithere"


def test_break_glass_with_options_and_a_reason() -> None:
    assert parse_command(
        "break-glass pods-read 30m ns=payments cluster=prod INC-42 payments are down"
    ) == BreakGlassCommand(
        "pods-read", timedelta(minutes=30), "INC-42 payments are down", "payments", "prod"
    )
    assert parse_command("breakglass pods-read 1h INC-42 is on fire") == BreakGlassCommand(
        "pods-read", timedelta(hours=1), "INC-42 is on fire"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "break-glass pods-read 30m",
            "Break-glass needs a reason of at least 10 characters: say what is on fire, e.g. "
            "an incident id. Usage: `/eks-access break-glass <profile> <duration> "
            "[ns=<namespace>] [cluster=<name>] <reason>`.",
        ),
        (
            "break-glass pods-read 30m INC-42",
            "Break-glass needs a reason of at least 10 characters (yours has 6)",
        ),
        ("break-glass pods-read 30m ns=default   \u0007 ", "at least 10 characters:"),
        ("break-glass", "Which profile? Usage: `/eks-access break-glass <profile>"),
        ("break-glass pods-read", "For how long? Usage: `/eks-access break-glass"),
        ("break-glass pods-read soon INC-42 is on fire", "`soon` is not a duration"),
        ("break-glass pods-read 1h ns=KUBE INC-42 is on fire", "not a valid namespace name"),
    ],
)
def test_break_glass_refusals(text: str, message: str) -> None:
    with pytest.raises(Rejected) as e:
        parse_command(text)
    assert message in str(e.value)
