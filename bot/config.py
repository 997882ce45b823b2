"""Every setting the process reads from its environment: one typed object, built once in
`bot.cli` and passed down. Each field says its unit, its default and why it exists; the
README's Configuration table lists the same variables."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal
from urllib.parse import unquote, urlsplit

from bot.domain.retry import Retry

SLACK_API_DEFAULT = "https://slack.com/api/"
LogFormat = Literal["text", "json"]


@dataclass(frozen=True)
class SlackSettings:
    #: SLACK_BOT_TOKEN (xoxb-): the Web API token. Only `serve` needs it: the operator
    #: commands leave the messages they owe in the outbox, for the running bot to send.
    bot_token: str = field(default="", repr=False)
    #: SLACK_SIGNING_SECRET: every HTTP request from Slack is verified with it.
    signing_secret: str = field(default="", repr=False)
    #: SLACK_APP_TOKEN (xapp-): when set, `serve` connects by Socket Mode instead of HTTP.
    app_token: str = field(default="", repr=False)
    #: SLACK_API_URL: base URL of the Web API; every Web API call goes there (the tests point
    #: it at a loopback stub).
    api_url: str = SLACK_API_DEFAULT


@dataclass(frozen=True)
class HttpSettings:
    #: HOST, PORT: where `serve` listens for Slack's requests, `/healthz` and `/metrics` in
    #: HTTP mode.
    host: str = "0.0.0.0"
    port: int = 3000
    #: METRICS_PORT (9090): where `/healthz` and `/metrics` are served in Socket Mode, which
    #: has no HTTP server of its own.
    metrics_port: int = 9090


@dataclass(frozen=True)
class SchedulerSettings:
    #: EKS_ACCESS_SCHEDULER=off: this replica never runs the jobs. With it on (the default)
    #: every replica is ready to, and only the holder of the database lock does.
    run: bool = True
    #: EKS_ACCESS_SWEEP_INTERVAL, seconds (5): between database sweeps (expiry, retries,
    #: warnings, timeouts). A precise timer revokes at expiry; the sweep catches what it missed.
    sweep_interval: float = 5.0
    #: EKS_ACCESS_RECONCILE_INTERVAL, seconds (60): between passes that compare each cluster
    #: with the database and repair drift.
    reconcile_interval: float = 60.0
    #: EKS_ACCESS_DELIVER_INTERVAL, seconds (1): between passes of the outbox worker, which
    #: sends the Slack messages the bot owes. The longest a message waits once owed.
    deliver_interval: float = 1.0
    #: EKS_ACCESS_GIVE_UP_AFTER, seconds (7200): a message Slack has not taken after this long
    #: (an outage, a rate limit) is given up, with an audit event on its grant.
    give_up_after: float = 7200.0


@dataclass(frozen=True)
class Settings:
    slack: SlackSettings = field(default_factory=SlackSettings)
    http: HttpSettings = field(default_factory=HttpSettings)
    scheduler: SchedulerSettings = field(default_factory=SchedulerSettings)
    #: Backoff of failed cluster steps, the lease a step holds before the sweep may retry it
    #: (EKS_ACCESS_STEP_LEASE, seconds, 30), and when the alert channel hears of it.
    retry: Retry = field(default_factory=Retry)
    #: DATABASE_URL (sqlite:///eks-access.db): any SQLAlchemy URL; PostgreSQL for replicas.
    database_url: str = "sqlite:///eks-access.db"
    #: EKS_ACCESS_POLICY (./policy.yaml): the policy file (docs/policy.md).
    policy_path: str = "./policy.yaml"
    #: EKS_ACCESS_CRASH_AT: fault injection for the crash-consistency tests only — the process
    #: kills itself at these points (`before:ensure_mapping`, …; bot.adapters.faults). Never set
    #: it in production.
    crash_points: tuple[str, ...] = ()
    #: EKS_ACCESS_DECISION_THREADS (32): approvals run at most this many at once, each with
    #: the activation it starts. They mostly wait on their cluster, so many fit in one
    #: process; a burst of approvals beyond this waits its turn. The database pool grows with it.
    decision_threads: int = 32
    #: EKS_ACCESS_LOG_FORMAT (text): `text` writes `time LEVEL logger: message` lines for
    #: people; `json` writes one JSON object per line (level, logger, message, the grant, actor
    #: and cluster concerned, tracebacks as `exc_info`) for log pipelines, and then every line
    #: on stderr is JSON, the libraries', warnings' and crashes' included (bot.adapters.logs).
    log_format: LogFormat = "text"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        http, scheduler, retry = HttpSettings(), SchedulerSettings(), Retry()
        return cls(
            slack=SlackSettings(
                bot_token=env.get("SLACK_BOT_TOKEN", ""),
                signing_secret=env.get("SLACK_SIGNING_SECRET", ""),
                app_token=_app_token(env),
                api_url=env.get("SLACK_API_URL") or SLACK_API_DEFAULT,
            ),
            http=HttpSettings(
                host=env.get("HOST") or http.host,
                port=_port(env, "PORT", http.port),
                metrics_port=_port(env, "METRICS_PORT", http.metrics_port),
            ),
            scheduler=SchedulerSettings(
                run=(env.get("EKS_ACCESS_SCHEDULER") or "on").lower() not in ("off", "0"),
                sweep_interval=_seconds(env, "EKS_ACCESS_SWEEP_INTERVAL", scheduler.sweep_interval),
                reconcile_interval=_seconds(
                    env, "EKS_ACCESS_RECONCILE_INTERVAL", scheduler.reconcile_interval
                ),
                deliver_interval=_seconds(
                    env, "EKS_ACCESS_DELIVER_INTERVAL", scheduler.deliver_interval
                ),
                give_up_after=_seconds(env, "EKS_ACCESS_GIVE_UP_AFTER", scheduler.give_up_after),
            ),
            retry=Retry(
                lease=timedelta(
                    seconds=_seconds(env, "EKS_ACCESS_STEP_LEASE", retry.lease.total_seconds())
                )
            ),
            database_url=env.get("DATABASE_URL") or cls.database_url,
            policy_path=env.get("EKS_ACCESS_POLICY") or cls.policy_path,
            crash_points=tuple(
                p.strip() for p in env.get("EKS_ACCESS_CRASH_AT", "").split(",") if p.strip()
            ),
            log_format=_log_format(env),
            decision_threads=_whole(env, "EKS_ACCESS_DECISION_THREADS", cls.decision_threads, 1),
        )

    def secrets(self) -> tuple[str, ...]:
        """The values no log line may show: the Slack tokens and signing secret, and the
        database password (as written in DATABASE_URL and decoded)."""
        try:
            password = urlsplit(self.database_url).password or ""
        except ValueError:  # not a URL urllib can split (nor can SQLAlchemy)
            password = ""
        found = (
            self.slack.bot_token,
            self.slack.signing_secret,
            self.slack.app_token,
            password,
            unquote(password),
        )
        return tuple(dict.fromkeys(s for s in found if s))

    def __repr__(self) -> str:  # secrets never logged
        return (
            f"Settings(database_url={_redact_url(self.database_url)!r}, "
            f"policy_path={self.policy_path!r}, slack_api_url={self.slack.api_url!r}, "
            f"socket_mode={bool(self.slack.app_token)}, host={self.http.host!r}, "
            f"port={self.http.port})"
        )


class SettingsError(ValueError):
    """A variable has a value the bot cannot use; the message names it and what it takes."""


def _log_format(env: Mapping[str, str]) -> LogFormat:
    value = (env.get("EKS_ACCESS_LOG_FORMAT") or "text").strip().lower()
    if value == "text":
        return "text"
    if value == "json":
        return "json"
    raise SettingsError(f"EKS_ACCESS_LOG_FORMAT is {value!r}: use `text` (the default) or `json`.")


def _app_token(env: Mapping[str, str]) -> str:
    token = env.get("SLACK_APP_TOKEN", "").strip()
    if token and not token.startswith("xapp-"):
        raise SettingsError(
            "SLACK_APP_TOKEN must be the app-level token (xapp-…) of the Slack app's Socket "
            "Mode settings, not the bot token; leave it unset to serve HTTP."
        )
    return token


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0 or value != value or value == float("inf"):
        raise SettingsError(f"{name} is {raw!r}: give a number of seconds above 0, such as 5.")
    return value


def _whole(env: Mapping[str, str], name: str, default: int, least: int, most: int = 10**6) -> int:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = least - 1
    if not least <= value <= most:
        raise SettingsError(f"{name} is {raw!r}: give a whole number from {least} to {most}.")
    return value


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    return _whole(env, name, default, 1, 65535)


def _redact_url(url: str) -> str:
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)
