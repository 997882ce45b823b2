from __future__ import annotations

import json
import socket

import pytest

from bot.adapters.aws.identities import IamPrincipalChecker
from bot.domain.principals import Principal
from tests.support.aws import MotoServer

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
    }
)


@pytest.fixture
def checker(fresh_moto: MotoServer) -> IamPrincipalChecker:
    iam = fresh_moto.client("iam")
    iam.create_user(UserName="alice")
    iam.create_role(RoleName="eks-admin", Path="/teams/dev/", AssumeRolePolicyDocument=TRUST)
    return IamPrincipalChecker(fresh_moto.session(), endpoint_url=fresh_moto.url)


@pytest.mark.parametrize(
    ("arn", "expected"),
    [
        ("arn:aws:iam::123456789012:user/alice", True),
        ("arn:aws:iam::123456789012:user/bob", False),
        ("arn:aws:iam::123456789012:role/teams/dev/eks-admin", True),
        ("arn:aws:iam::123456789012:role/eks-admin", True),  # aws-auth form, path dropped
        ("arn:aws:iam::123456789012:role/eks-viewer", False),
    ],
)
def test_users_and_roles_are_looked_up_by_name(
    checker: IamPrincipalChecker, arn: str, expected: bool
) -> None:
    assert checker.exists(Principal.parse(arn)) is expected


def test_a_principal_in_another_account_cannot_be_checked(checker: IamPrincipalChecker) -> None:
    # GetUser answers for the bot's own account, where an "alice" exists.
    assert checker.exists(Principal.parse("arn:aws:iam::210987654321:user/alice")) is None


def test_access_denied_means_could_not_check(fresh_moto: MotoServer) -> None:
    iam = fresh_moto.client("iam")
    iam.create_user(UserName="checker")
    iam.put_user_policy(
        UserName="checker",
        PolicyName="whoami-only",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"}
                ],
            }
        ),
    )
    key = iam.create_access_key(UserName="checker")["AccessKey"]
    fresh_moto.enforce_iam_policies()
    checker = IamPrincipalChecker(
        fresh_moto.session(key["AccessKeyId"], key["SecretAccessKey"]),
        endpoint_url=fresh_moto.url,
    )

    assert checker.exists(Principal.parse("arn:aws:iam::123456789012:user/checker")) is None
    assert checker.exists(Principal.parse("arn:aws:iam::123456789012:role/any")) is None


def test_unreachable_iam_means_could_not_check(
    moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    checker = IamPrincipalChecker(moto_server.session(), endpoint_url=f"http://127.0.0.1:{port}")

    assert checker.exists(Principal.parse("arn:aws:iam::123456789012:user/alice")) is None
