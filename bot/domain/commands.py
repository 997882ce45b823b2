"""The slash command's text, parsed into a typed value or refused with a helpful sentence."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import timedelta

from bot.domain.command_refusals import (
    BadDuration,
    BadName,
    MissingDuration,
    MissingProfile,
    MissingRequestId,
    NotACommand,
    NotARequestId,
    ReasonNeeded,
    ReasonTooLong,
)
from bot.domain.durations import InvalidDuration, parse_duration
from bot.domain.ids import looks_like_id

NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")  # DNS-1123 label
MAX_REASON = 500
SUBCOMMANDS = ("grant", "break-glass", "list", "extend", "revoke", "profiles", "help")
#: A break-glass access is reviewed after the fact: its reason must say what for.
MIN_BREAK_GLASS_REASON = 10


@dataclass(frozen=True)
class GrantCommand:
    profile: str
    duration: timedelta
    namespace: str | None = None
    cluster: str | None = None
    reason: str = ""


@dataclass(frozen=True)
class BreakGlassCommand:
    """Access at once, without approval, announced to the approvers (who acknowledge it)."""

    profile: str
    duration: timedelta
    reason: str
    namespace: str | None = None
    cluster: str | None = None


@dataclass(frozen=True)
class ExtendCommand:
    grant_id: str
    duration: timedelta


@dataclass(frozen=True)
class RevokeCommand:
    grant_id: str


@dataclass(frozen=True)
class ListCommand:
    pass


@dataclass(frozen=True)
class ProfilesCommand:
    pass


@dataclass(frozen=True)
class HelpCommand:
    pass


Command = (
    GrantCommand
    | BreakGlassCommand
    | ExtendCommand
    | RevokeCommand
    | ListCommand
    | ProfilesCommand
    | HelpCommand
)


def _name(kind: str, value: str) -> str:
    if not NAME.fullmatch(value):
        raise BadName(kind, value)
    return value


def _grant_id(value: str | None, usage: str) -> str:
    if value is None:
        raise MissingRequestId(usage)
    if not looks_like_id(value):
        raise NotARequestId(value)
    return value


def _duration(value: str | None, usage: str) -> timedelta:
    if value is None:
        raise MissingDuration(usage)
    try:
        return parse_duration(value)
    except InvalidDuration as e:
        raise BadDuration(e) from None


def _clean_reason(words: list[str]) -> str:
    text = " ".join(words)
    text = "".join(c for c in text if unicodedata.category(c)[0] != "C")
    if len(text) > MAX_REASON:
        raise ReasonTooLong(len(text), MAX_REASON)
    return text.strip()


def typed_duration(value: str) -> timedelta:
    """A duration typed anywhere (the request dialog's field too), refused as here."""
    return _duration(value, "")


def clean_reason(text: str) -> str:
    """A reason typed anywhere, cleaned and bounded as the command's."""
    return _clean_reason(text.split())


def parse_command(text: str) -> Command:
    words = text.split()
    if not words:
        return HelpCommand()
    sub, args = words[0].lower(), words[1:]
    if sub == "help":
        return HelpCommand()
    if sub == "list":
        return ListCommand()
    if sub == "profiles":
        return ProfilesCommand()
    if sub == "revoke":
        return RevokeCommand(_grant_id(args[0] if args else None, "/eks-access revoke <id>"))
    if sub == "extend":
        usage = "/eks-access extend <id> <duration>"
        grant_id = _grant_id(args[0] if args else None, usage)
        return ExtendCommand(grant_id, _duration(args[1] if len(args) > 1 else None, usage))
    if sub in ("grant", "request"):
        return _parse_grant(args)
    if sub in ("break-glass", "breakglass"):
        return _parse_break_glass(args)
    raise NotACommand(words[0], SUBCOMMANDS)


def _parse_grant(args: list[str]) -> GrantCommand:
    usage = "/eks-access grant <profile> <duration> [ns=<namespace>] [cluster=<name>] [reason…]"
    profile, duration, namespace, cluster, reason = _profile_duration_options(args, usage)
    return GrantCommand(profile, duration, namespace, cluster, reason)


BREAK_GLASS_USAGE = (
    "/eks-access break-glass <profile> <duration> [ns=<namespace>] [cluster=<name>] <reason>"
)


def _parse_break_glass(args: list[str]) -> BreakGlassCommand:
    options = _profile_duration_options(args, BREAK_GLASS_USAGE)
    profile, duration, namespace, cluster, reason = options
    check_break_glass_reason(reason)
    return BreakGlassCommand(profile, duration, reason, namespace, cluster)


def check_break_glass_reason(reason: str) -> None:
    if len(reason) < MIN_BREAK_GLASS_REASON:
        raise ReasonNeeded(BREAK_GLASS_USAGE, MIN_BREAK_GLASS_REASON, len(reason))


def _profile_duration_options(
    args: list[str], usage: str
) -> tuple[str, timedelta, str | None, str | None, str]:
    """`<profile> <duration> [ns=…] [cluster=…] [reason…]`: options end where the reason starts."""
    if not args:
        raise MissingProfile(usage)
    profile = _name("profile", args[0].lower())
    duration = _duration(args[1] if len(args) > 1 else None, usage)
    namespace = cluster = None
    reason: list[str] = []
    for word in args[2:]:
        key, sep, value = word.partition("=")
        if sep and not reason and key in ("ns", "namespace"):
            namespace = _name("namespace", value)
        elif sep and not reason and key == "cluster":
            cluster = _name("cluster", value)
        else:
            reason.append(word)
    return profile, duration, namespace, cluster, _clean_reason(reason)
