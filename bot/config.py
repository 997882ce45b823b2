"""Typed settings (from the environment) and the policy file, each built once in main."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

SLACK_API_DEFAULT = "https://slack.com/api/"


@dataclass(frozen=True)
class Settings:
    """Everything the process reads from its environment."""

    slack_bot_token: str = ""
    slack_signing_secret: str = ""
    #: xapp- token; when set the bot connects by Socket Mode instead of serving HTTP.
    slack_app_token: str = ""
    #: Base URL of the Slack Web API; every Web API call goes there (tests use a loopback stub).
    slack_api_url: str = SLACK_API_DEFAULT
    database_url: str = "sqlite:///eks-access.db"
    policy_path: str = "./policy.yaml"
    host: str = "0.0.0.0"
    port: int = 3000
    #: Seconds between database sweeps (expiry, retries, warnings, timeouts).
    sweep_interval: float = 5.0
    #: Seconds between reconcile passes (database vs. what the cluster holds).
    reconcile_interval: float = 60.0
    #: Run the scheduler in this process (one replica must; others defer to the lock holder).
    run_scheduler: bool = True
    #: Seconds a state written before an external step is left to that step before the sweep
    #: may retry it (so the sweep does not race a step still running elsewhere).
    step_lease: float = 30.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(
            slack_bot_token=env.get("SLACK_BOT_TOKEN", ""),
            slack_signing_secret=env.get("SLACK_SIGNING_SECRET", ""),
            slack_app_token=env.get("SLACK_APP_TOKEN", ""),
            slack_api_url=env.get("SLACK_API_URL") or SLACK_API_DEFAULT,
            database_url=env.get("DATABASE_URL") or cls.database_url,
            policy_path=env.get("EKS_ACCESS_POLICY") or cls.policy_path,
            host=env.get("HOST") or cls.host,
            port=int(env.get("PORT") or cls.port),
            sweep_interval=float(env.get("EKS_ACCESS_SWEEP_INTERVAL") or cls.sweep_interval),
            reconcile_interval=float(
                env.get("EKS_ACCESS_RECONCILE_INTERVAL") or cls.reconcile_interval
            ),
            run_scheduler=(env.get("EKS_ACCESS_SCHEDULER") or "on").lower() not in ("off", "0"),
            step_lease=float(env.get("EKS_ACCESS_STEP_LEASE") or cls.step_lease),
        )

    def __repr__(self) -> str:  # secrets never logged
        return (
            f"Settings(database_url={_redact_url(self.database_url)!r}, "
            f"policy_path={self.policy_path!r}, slack_api_url={self.slack_api_url!r}, "
            f"socket_mode={bool(self.slack_app_token)}, host={self.host!r}, port={self.port})"
        )


def _redact_url(url: str) -> str:
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)
