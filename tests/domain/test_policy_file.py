from pathlib import Path

import pytest
import yaml

from bot.config import Settings
from bot.policy_file import PolicyError, load_policy, parse_policy

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "policy.example.yaml"


def test_the_documented_example_is_accepted_as_is() -> None:
    policy = load_policy(EXAMPLE)
    profile = policy.profiles["pods-read"]
    assert policy.approval_channel == "C0APPROVALS"
    assert policy.default_cluster.name == "dev"
    assert profile.approvers == ("U0CAROL",) and profile.requesters == ("*",)
    assert profile.max_duration.total_seconds() == 4 * 3600
    assert profile.min_duration.total_seconds() == 10
    assert policy.identities["U0DAVE"] == "arn:aws:iam::111122223333:role/dave-admin"


def problems(doc: dict) -> list[str]:
    with pytest.raises(PolicyError) as e:
        parse_policy(doc)
    return e.value.problems


def base() -> dict:
    return yaml.safe_load(EXAMPLE.read_text())


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["slack"].pop("approval_channel"), "slack.approval_channel: required"),
        (lambda d: d["slack"].update(alerts_channel="C1"), "slack.alerts_channel: unknown setting"),
        (lambda d: d["defaults"].update(max_duraton="1h"), "defaults.max_duraton: unknown setting"),
        (
            lambda d: d["defaults"].update(max_duration="8 hours"),
            "defaults.max_duration: `8 hours` is not a duration",
        ),
        (
            lambda d: d["clusters"][0].update(eks={"name": "x", "region": "y"}),
            "give exactly one of kubeconfig or eks",
        ),
        (
            lambda d: d["clusters"][0].update(default="false"),
            "clusters[0].default: must be true or false",
        ),
        (
            lambda d: d["identities"].update(U0EVE="arn:aws:iam::1:user/eve"),
            "identities.U0EVE: 'arn:aws:iam::1:user/eve' is not an IAM user or role ARN",
        ),
        (
            lambda d: d["profiles"]["pods-read"].update(approvers=["*"]),
            '"*" is not allowed for approvers',
        ),
        (
            lambda d: d["profiles"]["pods-read"].update(namespaces=["Kube_System"]),
            "is not a valid namespace name",
        ),
        (
            lambda d: d["profiles"]["pods-read"].update(cluster_role="view"),
            "give exactly one of rules or cluster_role",
        ),
        (
            lambda d: d["profiles"]["pods-read"]["rules"][0].update(verbs=["*"]),
            "wildcards are not allowed",
        ),
        (
            lambda d: d["profiles"]["pods-read"].update(self_approval="yes"),
            "self_approval: must be true or false",
        ),
        (
            lambda d: d["profiles"]["pods-read"].update(min_duration="5h"),
            "min_duration is longer than max_duration",
        ),
        (lambda d: d["profiles"]["pods-read"].update(clusters=["prod"]), "no cluster named 'prod'"),
        (
            lambda d: d["profiles"]["pods-read"].update(approver=["U1"]),
            "profiles.pods-read.approver: unknown setting",
        ),
    ],
)
def test_each_problem_is_named_precisely(edit, message: str) -> None:
    doc = base()
    edit(doc)
    assert any(message in p for p in problems(doc)), problems(doc)


def test_all_problems_are_reported_at_once() -> None:
    doc = base()
    doc["slack"] = {}
    doc["profiles"]["pods-read"]["approvers"] = []
    assert len(problems(doc)) == 2


def test_settings_hide_secrets() -> None:
    settings = Settings.from_env(
        {
            "SLACK_BOT_TOKEN": "xoxb-secret",
            "SLACK_SIGNING_SECRET": "shh",
            "DATABASE_URL": "postgresql://u:pw@db/x",
        }
    )
    assert (
        "secret" not in repr(settings)
        and "shh" not in repr(settings)
        and "pw" not in repr(settings)
    )
    assert settings.port == 3000 and settings.host == "0.0.0.0"
