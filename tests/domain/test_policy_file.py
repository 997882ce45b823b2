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
    assert policy.identities["U0DAVE"].principal.arn == "arn:aws:iam::111122223333:role/dave-admin"


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
            lambda d: d["clusters"][0].pop("kubeconfig"),
            "clusters[0]: give kubeconfig, eks, or both",
        ),
        (
            lambda d: d["clusters"][0].update(mapping="configmap"),
            "clusters[0].mapping: 'configmap' is not one of aws-auth, access-entries, auto",
        ),
        (
            lambda d: d["clusters"][0].update(mapping="access-entries"),
            "clusters[0].mapping: access-entries are made through the EKS API",
        ),
        (
            lambda d: d["clusters"][0].update(assume_role="arn:aws:iam::111122223333:role/x"),
            "clusters[0].assume_role: only AWS calls use it",
        ),
        (
            lambda d: d["clusters"][0].update(
                eks={"name": "x", "region": "eu-west-1"},
                assume_role="arn:aws:iam::111122223333:user/x",
            ),
            "clusters[0].assume_role: 'arn:aws:iam::111122223333:user/x' is an IAM user",
        ),
        (
            lambda d: d["clusters"][0].update(external_id="abc"),
            "clusters[0].external_id: only used with assume_role",
        ),
        (
            lambda d: d["clusters"][0].update(sso_role="arn:aws:sts::1:assumed-role/x/y"),
            "clusters[0].sso_role: 'arn:aws:sts::1:assumed-role/x/y' is not an IAM user or role",
        ),
        (
            lambda d: d["identities"].update(
                U0EVE={"arn": "arn:aws:iam::111122223333:user/eve", "session": "eve"}
            ),
            "identities.U0EVE: 'arn:aws:iam::111122223333:user/eve' is an IAM user; only roles",
        ),
        (
            lambda d: d["identities"].update(
                U0EVE={"arn": "arn:aws:iam::111122223333:role/sso", "session": "e v e"}
            ),
            "identities.U0EVE: 'e v e' is not an STS session name",
        ),
        (
            lambda d: d["identities"].update(
                U0EVE={"arn": "arn:aws:iam::111122223333:role/sso/DaVe-Admin", "session": "eve"}
            ),
            "identities: one IAM principal is spelled in several ways "
            "(arn:aws:iam::111122223333:role/dave-admin, "
            "arn:aws:iam::111122223333:role/sso/DaVe-Admin)",
        ),
        (
            lambda d: d["identities"].update(U0EVE={"session": "eve"}),
            "identities.U0EVE.arn: required",
        ),
        (
            lambda d: d["identities"].update(
                U0EVE={"arn": "arn:aws:iam::111122223333:role/sso", "sesion": "eve"}
            ),
            "identities.U0EVE.sesion: unknown setting (allowed: arn, session)",
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


def test_identities_name_users_roles_and_sessions_on_shared_roles() -> None:
    doc = base()
    sso = "arn:aws:iam::111122223333:role/AWSReservedSSO_EKSUsers_0123456789abcdef"
    doc["identities"].update(
        U0ALICE={"arn": sso, "session": "alice@example.com"},
        U0BOB="arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_EKSUsers_0123456789abcdef/bob@example.com",
    )
    doc["clusters"][0].update(
        eks={"name": "dev", "region": "eu-west-1"},
        mapping="access-entries",
        assume_role="arn:aws:iam::444455556666:role/eks-access",
        external_id="platform-42",
        sso_role=sso,
    )
    policy = parse_policy(doc)
    alice, bob = policy.identities["U0ALICE"], policy.identities["U0BOB"]
    assert (alice.principal.arn, alice.session) == (sso, "alice@example.com")
    assert (bob.principal.arn, bob.session) == (sso, "bob@example.com")
    cluster = policy.clusters[0]
    assert (cluster.kubeconfig is not None, cluster.eks_name, cluster.mapping) == (
        True,
        "dev",
        "access-entries",
    )
    assert (cluster.assume_role, cluster.external_id, cluster.sso_role) == (
        "arn:aws:iam::444455556666:role/eks-access",
        "platform-42",
        sso,
    )


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
    assert "secret" not in repr(settings.slack) and "shh" not in repr(settings.slack)
    assert settings.http.port == 3000 and settings.http.host == "0.0.0.0"


def test_a_bot_token_given_as_the_app_token_is_refused_with_a_sentence() -> None:
    from bot.config import SettingsError

    with pytest.raises(SettingsError, match="must be the app-level token"):
        Settings.from_env({"SLACK_APP_TOKEN": "xoxb-not-an-app-token"})
    assert Settings.from_env({"SLACK_APP_TOKEN": "xapp-1-A"}).slack.app_token == "xapp-1-A"


@pytest.mark.parametrize(
    ("variable", "value", "sentence"),
    [
        ("PORT", "http", "PORT is 'http': give a whole number from 1 to 65535."),
        ("METRICS_PORT", "70000", "METRICS_PORT is '70000': give a whole number from 1 to 65535."),
        (
            "EKS_ACCESS_SWEEP_INTERVAL",
            "5s",
            "EKS_ACCESS_SWEEP_INTERVAL is '5s': give a number of seconds above 0, such as 5.",
        ),
        (
            "EKS_ACCESS_STEP_LEASE",
            "-1",
            "EKS_ACCESS_STEP_LEASE is '-1': give a number of seconds above 0, such as 5.",
        ),
        (
            "EKS_ACCESS_DECISION_THREADS",
            "0",
            "EKS_ACCESS_DECISION_THREADS is '0': give a whole number from 1 to 1000000.",
        ),
    ],
)
def test_a_setting_that_is_not_a_number_is_named(variable: str, value: str, sentence: str) -> None:
    from bot.config import SettingsError

    with pytest.raises(SettingsError) as refused:
        Settings.from_env({variable: value})
    assert str(refused.value) == sentence


def test_decision_threads_default_and_setting() -> None:
    assert Settings.from_env({}).decision_threads == 32
    assert Settings.from_env({"EKS_ACCESS_DECISION_THREADS": "8"}).decision_threads == 8
