"""AssumeRole sessions against moto's server, in two AWS accounts.

The sessions under test get no `endpoint_url`: the environment points botocore at moto
(AWS_ENDPOINT_URL, or the per-service variables), as it would point the bot at VPC endpoints,
which also proves that the STS client inside the credentials honours it.

moto keeps one backend per account: a request lands in the account of its access key (an
assumed role's key belongs to the role's account) or of the `x-moto-account-id` header, which
is how these tests arrange resources in the second account.
"""

from __future__ import annotations

import base64
import json
import logging
import socket
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from bot.adapters.aws.eks_cluster import authentication_mode, eks_api_client
from bot.adapters.aws.sessions import (
    AssumeRoleDenied,
    AssumeRoleUnavailable,
    AwsSessions,
    aws_session,
)
from bot.domain.errors import PermanentError, TransientError
from tests.adapters.aws.conftest import FakeClock, TlsIdentity
from tests.adapters.aws.test_eks_token import presigned_url
from tests.support.aws import MotoServer

ACCOUNT_B = "210987654321"
ROLE_NAME = "eks-access-bot"
ROLE_B = f"arn:aws:iam::{ACCOUNT_B}:role/{ROLE_NAME}"


@pytest.fixture
def aws(fresh_moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> MotoServer:
    """moto with the role in account B, reached through the environment only."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", fresh_moto.url)
    _in_account(fresh_moto, "iam", ACCOUNT_B).create_role(
        RoleName=ROLE_NAME,
        AssumeRolePolicyDocument=_trusting(f"arn:aws:iam::{fresh_moto.account_id}:root"),
    )
    return fresh_moto


def _in_account(aws: MotoServer, service: str, account: str) -> Any:
    client = aws.session().client(service, endpoint_url=aws.url)

    def to_account(request: Any, **_: Any) -> None:
        request.headers["x-moto-account-id"] = account

    client.meta.events.register("before-sign.*.*", to_account)
    return client


def _trusting(principal: str, external_id: str | None = None) -> str:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"AWS": principal},
        "Action": "sts:AssumeRole",
    }
    if external_id is not None:
        statement["Condition"] = {"StringEquals": {"sts:ExternalId": external_id}}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _assumed_roles(account: str) -> list[Any]:
    """What moto recorded for each AssumeRole into `account` (the server runs in this process)."""
    from moto.sts.models import sts_backends

    return list(sts_backends[account]["aws"].assumed_roles)


def _create_cluster(aws: MotoServer, account: str, name: str) -> None:
    # moto checks neither the role nor the subnets; the EKS adapter tests build real ones.
    _in_account(aws, "eks", account).create_cluster(
        name=name,
        roleArn=f"arn:aws:iam::{account}:role/{name}-cluster",
        resourcesVpcConfig={"subnetIds": ["subnet-0b1", "subnet-0b2"]},
    )


def _user_with_keys(
    aws: MotoServer, name: str, policy: dict[str, Any] | None = None
) -> boto3.Session:
    iam = aws.client("iam")
    iam.create_user(UserName=name)
    if policy is not None:
        iam.put_user_policy(UserName=name, PolicyName="bot", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return aws.session(key["AccessKeyId"], key["SecretAccessKey"])


def _allow_assume(role_arn: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn}],
    }


# --- who the session is ----------------------------------------------------------------------


def test_a_session_for_a_role_signs_in_as_that_role_in_its_account(aws: MotoServer) -> None:
    session = aws_session(assume_role=ROLE_B, base=aws.session())

    identity = session.client("sts").get_caller_identity()

    assert identity["Account"] == ACCOUNT_B
    assert identity["Arn"] == f"arn:aws:sts::{ACCOUNT_B}:assumed-role/{ROLE_NAME}/eks-access"


def test_without_a_role_the_session_is_the_bot_s_own(aws: MotoServer) -> None:
    base = aws.session()

    assert aws_session(base=base) is base
    assert base.client("sts").get_caller_identity()["Account"] == aws.account_id


def test_nothing_is_assumed_before_the_first_call(aws: MotoServer) -> None:
    session = aws_session(assume_role=ROLE_B, base=aws.session())
    sts = session.client("sts")
    session.client("eks")

    assert _assumed_roles(ACCOUNT_B) == []
    sts.get_caller_identity()
    assert len(_assumed_roles(ACCOUNT_B)) == 1


# --- the clusters each session sees ----------------------------------------------------------


def test_the_role_s_session_finds_the_cluster_in_its_account_and_not_the_bot_s(
    aws: MotoServer,
) -> None:
    _create_cluster(aws, aws.account_id, "team-a")
    _create_cluster(aws, ACCOUNT_B, "team-b")
    assumed = aws_session(assume_role=ROLE_B, base=aws.session()).client("eks")
    own = aws_session(base=aws.session()).client("eks")

    assert assumed.describe_cluster(name="team-b")["cluster"]["arn"] == (
        f"arn:aws:eks:eu-west-1:{ACCOUNT_B}:cluster/team-b"
    )
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        assumed.describe_cluster(name="team-a")
    assert own.describe_cluster(name="team-a")["cluster"]["arn"] == (
        f"arn:aws:eks:eu-west-1:{aws.account_id}:cluster/team-a"
    )
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        own.describe_cluster(name="team-b")


def test_the_eks_token_is_signed_with_the_role_s_credentials(
    aws: MotoServer, clock: FakeClock, loopback_tls: TlsIdentity
) -> None:
    from moto.eks.models import eks_backends

    _create_cluster(aws, ACCOUNT_B, "team-b")
    eks_backends[ACCOUNT_B][aws.region].clusters["team-b"].certificate_authority = {
        "data": base64.b64encode(loopback_tls.cert_pem.encode()).decode()
    }
    session = aws_session(assume_role=ROLE_B, base=aws.session())

    api = eks_api_client(cluster_name="team-b", region=aws.region, session=session, clock=clock)

    token = api.configuration.api_key["BearerToken"]
    _, _, query = presigned_url(token)
    role_key = session.get_credentials().get_frozen_credentials()
    assert query["X-Amz-Credential"].startswith(role_key.access_key + "/")
    assert query["X-Amz-Security-Token"] == role_key.token
    assert len(_assumed_roles(ACCOUNT_B)) == 1  # DescribeCluster and the token share it


# --- refresh ---------------------------------------------------------------------------------


@pytest.fixture
def shared_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """One fake clock for the bot and for moto's STS, which stamps Expiration from it."""
    import moto.sts.models

    clock = FakeClock(datetime.now(UTC))
    monkeypatch.setattr(moto.sts.models, "utcnow", lambda: clock.now.replace(tzinfo=None))
    return clock


def test_credentials_are_refreshed_15_minutes_before_they_expire(
    aws: MotoServer, shared_clock: FakeClock
) -> None:
    session = aws_session(assume_role=ROLE_B, base=aws.session(), clock=shared_clock)
    sts = session.client("sts")

    sts.get_caller_identity()
    first_key = session.get_credentials().get_frozen_credentials().access_key
    shared_clock.advance(timedelta(minutes=44))  # 16 minutes left of the hour
    sts.get_caller_identity()
    assert len(_assumed_roles(ACCOUNT_B)) == 1

    shared_clock.advance(timedelta(minutes=2))  # 14 minutes left
    sts.get_caller_identity()

    assumed = _assumed_roles(ACCOUNT_B)
    assert len(assumed) == 2
    assert session.get_credentials().get_frozen_credentials().access_key == (
        assumed[1].access_key_id
    )
    assert assumed[1].access_key_id != first_key


def test_a_failed_refresh_keeps_the_credentials_until_10_minutes_before_expiry(
    aws: MotoServer, shared_clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    session = aws_session(assume_role=ROLE_B, base=aws.session(), clock=shared_clock)
    sts = session.client("sts")
    sts.get_caller_identity()
    # From now on moto refuses the bot's own key ("testing" is no IAM user's key), while the
    # role's key, created by moto, stays valid: AssumeRole fails, other calls do not.
    aws.enforce_iam_policies()

    shared_clock.advance(timedelta(minutes=46))
    with caplog.at_level(logging.WARNING, logger="botocore.credentials"):
        assert sts.get_caller_identity()["Account"] == ACCOUNT_B
    assert "advisory refresh period" in caplog.text

    shared_clock.advance(timedelta(minutes=5))  # 9 minutes left
    with pytest.raises(AssumeRoleDenied) as raised:
        sts.get_caller_identity()
    assert isinstance(raised.value, PermanentError)
    assert str(raised.value).startswith(
        f"The bot may not assume role {ROLE_B}: InvalidClientTokenId"
    )


# --- external id -----------------------------------------------------------------------------


def test_the_external_id_is_sent_with_assume_role(aws: MotoServer) -> None:
    session = aws_session(assume_role=ROLE_B, external_id="team-b-7f3a", base=aws.session())

    session.client("sts").get_caller_identity()

    (assumed,) = _assumed_roles(ACCOUNT_B)
    assert assumed.external_id == "team-b-7f3a"
    assert assumed.role_arn == ROLE_B


def test_a_trust_policy_requiring_an_external_id_admits_only_that_id(aws: MotoServer) -> None:
    # moto checks trust policies (with their sts:ExternalId condition) for roles in the
    # caller's own account only, so this role lives in account A. (moto also admits a request
    # without any ExternalId here, where AWS refuses it: a missing key fails StringEquals.)
    bot = _user_with_keys(aws, "bot", _allow_assume(f"arn:aws:iam::{aws.account_id}:role/*"))
    role = aws.client("iam").create_role(
        RoleName="team-a-access",
        AssumeRolePolicyDocument=_trusting(
            f"arn:aws:iam::{aws.account_id}:user/bot", external_id="right-id"
        ),
    )["Role"]["Arn"]
    aws.enforce_iam_policies()

    with pytest.raises(AssumeRoleDenied, match=f"may not assume role {role}: AccessDenied"):
        aws_session(assume_role=role, external_id="wrong-id", base=bot).client(
            "sts"
        ).get_caller_identity()
    identity = (
        aws_session(assume_role=role, external_id="right-id", base=bot)
        .client("sts")
        .get_caller_identity()
    )
    assert identity["Arn"] == f"arn:aws:sts::{aws.account_id}:assumed-role/team-a-access/eks-access"


# --- errors ----------------------------------------------------------------------------------


def test_a_principal_without_sts_assume_role_gets_a_permanent_error_naming_the_role(
    aws: MotoServer,
) -> None:
    _create_cluster(aws, ACCOUNT_B, "team-b")
    bot = _user_with_keys(aws, "bot-without-assume")
    aws.enforce_iam_policies()
    eks = aws_session(assume_role=ROLE_B, base=bot).client("eks", region_name=aws.region)

    with pytest.raises(AssumeRoleDenied) as raised:
        authentication_mode(eks, "team-b")  # the bot's own DescribeCluster path

    error = raised.value
    assert isinstance(error, PermanentError)
    assert str(error) == (
        f"The bot may not assume role {ROLE_B} for EKS cluster 'team-b': AccessDenied: User: "
        f"arn:aws:iam::{aws.account_id}:user/bot-without-assume is not authorized to perform: "
        "sts:AssumeRole"
    )


def test_a_refused_assume_role_is_asked_again_on_the_next_call(aws: MotoServer) -> None:
    bot = _user_with_keys(aws, "bot")
    aws.enforce_iam_policies()
    sts = aws_session(assume_role=ROLE_B, base=bot).client("sts")
    with pytest.raises(AssumeRoleDenied):
        sts.get_caller_identity()

    aws.stop_enforcing_iam_policies()
    aws.client("iam").put_user_policy(
        UserName="bot", PolicyName="assume", PolicyDocument=json.dumps(_allow_assume(ROLE_B))
    )
    aws.enforce_iam_policies()

    assert sts.get_caller_identity()["Account"] == ACCOUNT_B


def test_an_unreachable_sts_is_a_transient_error_naming_the_role(
    aws: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", f"http://127.0.0.1:{closed_port}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    session = aws_session(assume_role=ROLE_B, base=boto3.Session())

    with pytest.raises(AssumeRoleUnavailable) as raised:
        session.client("eks").list_clusters()  # EKS itself is reachable; STS is not

    assert isinstance(raised.value, TransientError)
    assert str(raised.value).startswith(f"Could not reach AWS STS to assume role {ROLE_B}: ")


# --- endpoints from the environment ----------------------------------------------------------


def test_per_service_endpoint_variables_are_honoured(
    aws: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _create_cluster(aws, ACCOUNT_B, "team-b")
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", aws.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_EKS", aws.url)

    session = aws_session(assume_role=ROLE_B)  # no base, no endpoint_url anywhere

    assert session.client("eks").describe_cluster(name="team-b")["cluster"]["name"] == "team-b"
    assert session.client("sts").get_caller_identity()["Account"] == ACCOUNT_B


def test_the_role_is_assumed_in_the_region_asked_for(aws: MotoServer) -> None:
    session = aws_session(assume_role=ROLE_B, base=aws.session(), region_name="eu-central-1")

    session.client("sts").get_caller_identity()

    assert session.region_name == "eu-central-1"
    assert [r.region_name for r in _assumed_roles(ACCOUNT_B)] == ["eu-central-1"]


# --- one AssumeRole per role and external id -------------------------------------------------


def test_sessions_of_one_role_share_its_credentials(aws: MotoServer) -> None:
    sessions = AwsSessions(base=aws.session())

    for _ in range(3):
        sessions.session(assume_role=ROLE_B).client("sts").get_caller_identity()
    sessions.session(assume_role=ROLE_B, external_id="other-id").client("sts").get_caller_identity()

    assert [r.external_id for r in _assumed_roles(ACCOUNT_B)] == [None, "other-id"]


def test_threads_using_a_role_for_the_first_time_assume_it_once(aws: MotoServer) -> None:
    sessions = AwsSessions(base=aws.session())
    clients = [sessions.session(assume_role=ROLE_B).client("sts") for _ in range(4)]
    start = threading.Barrier(len(clients))
    accounts: list[str] = []
    errors: list[BaseException] = []

    def call(sts: Any) -> None:
        start.wait()
        try:
            accounts.append(sts.get_caller_identity()["Account"])
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=call, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    assert errors == []
    assert accounts == [ACCOUNT_B] * len(clients)
    assert len(_assumed_roles(ACCOUNT_B)) == 1
