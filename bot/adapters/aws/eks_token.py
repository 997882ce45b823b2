"""Bearer tokens for EKS, made the way `aws eks get-token` makes them, with boto3 alone.

A token is a presigned STS GetCallerIdentity URL that also signs the `x-k8s-aws-id` header
naming the cluster; the cluster's authenticator replays it to STS to learn who is calling
(aws-iam-authenticator, pkg/token). Signing is local: nothing is sent to STS here.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import boto3
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    UnknownRegionError,
)

from bot.adapters.aws.sessions import AssumeRoleError
from bot.domain.errors import PermanentError, TransientError

TOKEN_PREFIX = "k8s-aws-v1."
CLUSTER_ID_HEADER = "x-k8s-aws-id"
# What awscli sends; the authenticator only requires 0..900 and ignores it for the lifetime.
URL_EXPIRES_SECONDS = 60
# The authenticator accepts a token for this long after its X-Amz-Date.
AUTHENTICATOR_TOKEN_LIFETIME = timedelta(minutes=15)
# The authenticator rejects longer tokens (aws-iam-authenticator `maxTokenLenBytes`).
MAX_TOKEN_LENGTH = 4096

# The authenticator only accepts the public STS hosts, so the token must name one even when
# the bot's own STS calls go through a VPC endpoint or a test server.
_STS_DNS_SUFFIX = {
    "aws": "amazonaws.com",
    "aws-cn": "amazonaws.com.cn",
    "aws-us-gov": "amazonaws.com",
}


class EksTokenSource:
    """The current bearer token for one cluster.

    The Kubernetes client asks for the token before every request, so it is cached and signed
    again only once `refresh_after` has passed on `clock`; the margin to the authenticator's
    15 minutes covers clock skew and requests that are slow to arrive. Safe to share between
    threads (the scheduler and Slack handlers use the same API client).
    """

    def __init__(
        self,
        *,
        cluster_name: str,
        region: str,
        session: boto3.Session,
        clock: Callable[[], datetime],
        refresh_after: timedelta = timedelta(minutes=10),
    ) -> None:
        if not timedelta(0) < refresh_after < AUTHENTICATOR_TOKEN_LIFETIME:
            raise ValueError(
                f"refresh_after must be between 0 and {AUTHENTICATOR_TOKEN_LIFETIME}, "
                f"got {refresh_after}: the cluster rejects older tokens"
            )
        self._cluster_name = cluster_name
        self._clock = clock
        self._refresh_after = refresh_after
        self._sts = session.client(
            "sts", region_name=region, endpoint_url=_regional_sts_url(session, region)
        )
        self._sts.meta.events.register(
            "before-sign.sts.GetCallerIdentity", self._add_cluster_header
        )
        self._lock = threading.Lock()
        self._token: str | None = None
        self._issued_at: datetime | None = None

    def token(self) -> str:
        """`k8s-aws-v1.<base64url presigned URL>`; raises PermanentError/TransientError."""
        now = self._clock()
        if now.tzinfo is None:
            raise ValueError(f"the clock returned a naive datetime ({now!r}); it must be UTC")
        with self._lock:
            # A clock that went backwards also gets a fresh token: the age is unknown.
            if (
                self._token is None
                or self._issued_at is None
                or not self._issued_at <= now < self._issued_at + self._refresh_after
            ):
                self._token = self._sign()
                self._issued_at = now
            return self._token

    def _sign(self) -> str:
        try:
            url = self._sts.generate_presigned_url(
                "get_caller_identity",
                Params={},
                ExpiresIn=URL_EXPIRES_SECONDS,
                HttpMethod="GET",
            )
        except AssumeRoleError as e:
            raise e.for_cluster(self._cluster_name) from e
        except NoCredentialsError as e:
            raise PermanentError(
                f"The bot has no AWS credentials, so it cannot sign in to EKS cluster "
                f"'{self._cluster_name}'."
            ) from e
        except (BotoCoreError, ClientError) as e:
            # Signing is local; what can fail is refreshing credentials (metadata service, STS).
            raise TransientError(
                f"Could not get AWS credentials to sign in to EKS cluster "
                f"'{self._cluster_name}': {e}"
            ) from e
        token = TOKEN_PREFIX + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")
        if len(token) > MAX_TOKEN_LENGTH:
            raise PermanentError(
                f"The sign-in token for EKS cluster '{self._cluster_name}' is {len(token)} "
                f"characters long; the cluster accepts at most {MAX_TOKEN_LENGTH} "
                "(the session token of the bot's AWS credentials is too long)."
            )
        return token

    def _add_cluster_header(self, request: Any, **_: Any) -> None:
        request.headers[CLUSTER_ID_HEADER] = self._cluster_name


def _regional_sts_url(session: boto3.Session, region: str) -> str:
    try:
        partition = session.get_partition_for_region(region)
    except UnknownRegionError as e:
        raise PermanentError(f"'{region}' is not an AWS region this bot knows.") from e
    suffix = _STS_DNS_SUFFIX.get(partition)
    if suffix is None:
        raise PermanentError(
            f"Region {region} is in AWS partition '{partition}', where the bot cannot sign in "
            "to EKS (supported: " + ", ".join(sorted(_STS_DNS_SUFFIX)) + ")."
        )
    return f"https://sts.{region}.{suffix}"
