from __future__ import annotations

import base64
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest

from bot.adapters.aws.eks_token import EksTokenSource
from bot.domain.errors import PermanentError
from tests.adapters.aws.conftest import FakeClock
from tests.support.aws import MotoServer

# Query parameters the aws-iam-authenticator accepts (`parameterWhitelist`); anything else is
# rejected.
AUTHENTICATOR_PARAMETERS = {
    "Action",
    "Version",
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-Security-Token",
    "X-Amz-Signature",
    "X-Amz-SignedHeaders",
}


def presigned_url(token: str) -> tuple[str, str, dict[str, str]]:
    """(host, path, query) of the URL inside a token."""
    assert token.startswith("k8s-aws-v1.")
    encoded = token.removeprefix("k8s-aws-v1.")
    url = urlsplit(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode())
    assert url.scheme == "https"
    query = {k: v[0] for k, v in parse_qs(url.query, strict_parsing=True).items()}
    return str(url.hostname), url.path, query


def signed_at(token: str) -> datetime:
    return datetime.strptime(presigned_url(token)[2]["X-Amz-Date"] + "+0000", "%Y%m%dT%H%M%SZ%z")


def source(
    aws: MotoServer,
    clock: FakeClock,
    cluster: str = "team-a",
    refresh_after: timedelta = timedelta(minutes=10),
) -> EksTokenSource:
    return EksTokenSource(
        cluster_name=cluster,
        region=aws.region,
        session=aws.session(),
        clock=clock,
        refresh_after=refresh_after,
    )


def test_token_is_a_presigned_get_caller_identity_url_naming_the_cluster(
    moto_server: MotoServer, clock: FakeClock
) -> None:
    token = source(moto_server, clock).token()

    host, path, query = presigned_url(token)
    assert (host, path) == ("sts.eu-west-1.amazonaws.com", "/")
    assert query["Action"] == "GetCallerIdentity"
    assert query["Version"] == "2011-06-15"
    assert query["X-Amz-Expires"] == "60"
    assert "x-k8s-aws-id" in query["X-Amz-SignedHeaders"].split(";")
    assert query["X-Amz-Credential"].endswith("/eu-west-1/sts/aws4_request")
    assert set(query) <= AUTHENTICATOR_PARAMETERS
    assert "=" not in token.removeprefix("k8s-aws-v1.")
    assert len(token) < 4096


def test_the_cluster_name_is_covered_by_the_signature(
    moto_server: MotoServer, signing_clock: FakeClock
) -> None:
    a = presigned_url(source(moto_server, signing_clock, cluster="team-a").token())[2]
    b = presigned_url(source(moto_server, signing_clock, cluster="team-b").token())[2]

    assert a["X-Amz-Date"] == b["X-Amz-Date"]
    assert a["X-Amz-Signature"] != b["X-Amz-Signature"]


def test_the_public_sts_host_is_named_even_when_sts_calls_are_redirected(
    moto_server: MotoServer, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", moto_server.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.url)

    host, _, _ = presigned_url(source(moto_server, clock).token())

    assert host == "sts.eu-west-1.amazonaws.com"


def test_china_regions_sign_for_the_china_sts_host(
    moto_server: MotoServer, clock: FakeClock
) -> None:
    tokens = EksTokenSource(
        cluster_name="team-a", region="cn-north-1", session=moto_server.session(), clock=clock
    )

    assert presigned_url(tokens.token())[0] == "sts.cn-north-1.amazonaws.com.cn"


def test_token_is_reused_until_refresh_after_then_signed_again(
    moto_server: MotoServer, signing_clock: FakeClock
) -> None:
    tokens = source(moto_server, signing_clock, refresh_after=timedelta(minutes=10))
    first = tokens.token()
    assert signed_at(first) == signing_clock.now

    signing_clock.advance(timedelta(minutes=9, seconds=59))
    assert tokens.token() == first

    signing_clock.advance(timedelta(seconds=1))
    second = tokens.token()
    assert second != first
    assert signed_at(second) == signing_clock.now

    signing_clock.advance(timedelta(minutes=5))
    assert tokens.token() == second


def test_a_clock_that_went_backwards_gets_a_new_token(
    moto_server: MotoServer, signing_clock: FakeClock
) -> None:
    tokens = source(moto_server, signing_clock)
    first = tokens.token()

    signing_clock.advance(timedelta(minutes=-3))

    assert tokens.token() != first


@pytest.mark.parametrize("refresh_after", [timedelta(0), timedelta(minutes=15)])
def test_refresh_after_must_leave_the_token_valid(
    moto_server: MotoServer, clock: FakeClock, refresh_after: timedelta
) -> None:
    with pytest.raises(ValueError, match="refresh_after"):
        source(moto_server, clock, refresh_after=refresh_after)


def test_naive_clock_is_refused(moto_server: MotoServer) -> None:
    tokens = source(moto_server, FakeClock(datetime(2026, 3, 1, 9, 30)))

    with pytest.raises(ValueError, match="naive"):
        tokens.token()


def test_no_credentials_is_a_permanent_error(
    moto_server: MotoServer, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")

    tokens = EksTokenSource(
        cluster_name="team-a",
        region="eu-west-1",
        session=boto3.Session(region_name="eu-west-1"),
        clock=clock,
    )

    with pytest.raises(PermanentError, match=r"no AWS credentials.*'team-a'"):
        tokens.token()
