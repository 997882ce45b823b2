"""The AWS identity the bot uses for a cluster: its own, or a role it assumes (`assume_role`).

A cluster in another account names a role there; every call for that cluster (DescribeCluster,
the access-entry calls, the signed EKS token) then uses STS AssumeRole credentials for it.
botocore's own `DeferredRefreshableCredentials` keeps them fresh: the first use fetches them,
and from 15 minutes before expiry on any use refreshes them. A refresh that fails then keeps
the old credentials; once fewer than 10 remain, the failure is raised to the caller.

Nothing is fetched when a session is built, so the bot starts while AWS is unreachable; the
first call that needs the credentials raises `AssumeRoleDenied` or `AssumeRoleUnavailable`
(a PermanentError / TransientError naming the role) from inside the boto3 call, unwrapped:
botocore passes exceptions raised while signing straight through.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any, Self

import boto3
import botocore.session
from botocore.credentials import (
    CredentialProvider,
    CredentialResolver,
    DeferredRefreshableCredentials,
)
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    NoCredentialsError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from bot.adapters.aws.errors import RETRYABLE_CODES, error_code
from bot.domain.errors import PermanentError, TransientError
from bot.domain.policy import ClusterConfig

# The most AWS allows when the bot's own credentials are already a role session (IRSA, EKS Pod
# Identity, an instance role): role chaining caps AssumeRole at one hour. It is also the
# default MaxSessionDuration of a role, so no role has to be changed for it.
ASSUME_ROLE_SECONDS = 3600


class AssumeRoleError(Exception):
    """STS did not hand out credentials for `role_arn`; `reason` says what it answered."""

    _sentence = "Could not assume role {role}{where}: {reason}"

    def __init__(self, role_arn: str, reason: str, *, cluster: str | None = None) -> None:
        self.role_arn = role_arn
        self.reason = reason
        self.cluster = cluster
        where = f" for EKS cluster '{cluster}'" if cluster else ""
        super().__init__(self._sentence.format(role=role_arn, where=where, reason=reason))

    def for_cluster(self, cluster: str) -> Self:
        """The same error, its sentence naming the cluster the caller was working on.

        The credentials of one role are shared by every cluster that names it, so only the
        call site knows which cluster was being reached.
        """
        return type(self)(self.role_arn, self.reason, cluster=cluster)


class AssumeRoleDenied(AssumeRoleError, PermanentError):
    """Refused (trust policy, the bot's policy, external id, credentials): a human must look."""

    _sentence = "The bot may not assume role {role}{where}: {reason}"


class AssumeRoleUnavailable(AssumeRoleError, TransientError):
    """STS was unreachable or throttled: retry later."""

    _sentence = "Could not reach AWS STS to assume role {role}{where}: {reason}"


def aws_session(
    *,
    assume_role: str | None = None,
    external_id: str | None = None,
    session_name: str = "eks-access",
    base: boto3.Session | None = None,
    region_name: str | None = None,
    clock: Callable[[], datetime] | None = None,
) -> boto3.Session:
    """The session to reach a cluster with: `base` (or the default one) unless a role is named.

    For a role: a new Session whose credentials come from AssumeRole, called with `base`'s
    credentials through an STS client that honours AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL.
    `region_name` (the cluster's) is where that client calls STS, `base`'s region if None:
    the global STS endpoint serves the `aws` partition only, and by default its session tokens
    do not work in opt-in regions. `clock` (timezone-aware) decides when credentials are
    refreshed; tests move it instead of waiting.
    """
    sessions = AwsSessions(base=base, session_name=session_name, clock=clock)
    return sessions.session(
        assume_role=assume_role, external_id=external_id, region_name=region_name
    )


def cluster_session(cluster: ClusterConfig, sessions: AwsSessions | None = None) -> boto3.Session:
    """The cluster's AWS session: the bot's own credentials, or AssumeRole on `assume_role`
    (credentials shared by every cluster behind the same role, refreshed before expiry)."""
    return (sessions or AwsSessions()).session(
        assume_role=cluster.assume_role,
        external_id=cluster.external_id,
        region_name=cluster.eks_region,
    )


class AwsSessions:
    """The sessions of all clusters: one AssumeRole per (role, external id), however many use it.

    `session()` returns a new Session on every call, because a boto3 Session is not safe to
    create clients from in several threads at once; the credentials inside are, so every
    connection gets its own Session while the clusters naming one role share its credentials.
    """

    def __init__(
        self,
        *,
        base: boto3.Session | None = None,
        session_name: str = "eks-access",
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._base = base
        self._session_name = session_name
        self._clock = clock
        self._lock = threading.Lock()
        self._credentials: dict[tuple[str, str | None], DeferredRefreshableCredentials] = {}

    def session(
        self,
        *,
        assume_role: str | None = None,
        external_id: str | None = None,
        region_name: str | None = None,
    ) -> boto3.Session:
        """`region_name` as for `aws_session`; the first caller's counts for a role's STS calls."""
        if assume_role is None:
            return self._base if self._base is not None else boto3.Session()
        with self._lock:
            credentials = self._credentials.get((assume_role, external_id))
            if credentials is None:
                credentials = self._assume_role_credentials(assume_role, external_id, region_name)
                self._credentials[(assume_role, external_id)] = credentials
        core = botocore.session.Session()
        core.register_component("credential_provider", CredentialResolver([_Fixed(credentials)]))
        region = region_name or (self._base.region_name if self._base is not None else None)
        return boto3.Session(botocore_session=core, region_name=region)

    def _assume_role_credentials(
        self, role_arn: str, external_id: str | None, region_name: str | None
    ) -> DeferredRefreshableCredentials:
        params: dict[str, Any] = {
            "RoleArn": role_arn,
            "RoleSessionName": self._session_name,
            "DurationSeconds": ASSUME_ROLE_SECONDS,
        }
        if external_id is not None:
            params["ExternalId"] = external_id
        base = self._base if self._base is not None else boto3.Session()
        refresh = _AssumeRole(base, params, region_name)
        if self._clock is None:  # botocore's default: its own reading of the local clock
            return DeferredRefreshableCredentials(refresh_using=refresh, method="assume-role")
        return DeferredRefreshableCredentials(
            refresh_using=refresh, method="assume-role", time_fetcher=self._clock
        )


class _AssumeRole:
    """`refresh_using` of the role's credentials; botocore never runs it twice at once."""

    # Sessions passed in as `base` may be shared by several roles' credentials.
    _client_creation = threading.Lock()

    def __init__(self, base: boto3.Session, params: dict[str, Any], region: str | None) -> None:
        self._base = base
        self._params = params
        self._region = region
        self._sts: Any = None

    def __call__(self) -> dict[str, str]:
        try:
            response = self._client().assume_role(**self._params)
        except (BotoCoreError, ClientError) as e:
            raise _sorted_error(e, self._params["RoleArn"]) from e
        credentials = response["Credentials"]
        return {
            "access_key": credentials["AccessKeyId"],
            "secret_key": credentials["SecretAccessKey"],
            "token": credentials["SessionToken"],
            "expiry_time": credentials["Expiration"].isoformat(),
        }

    def _client(self) -> Any:
        # Made once the bot has credentials of its own: a client keeps what it found when it
        # was made, so one made while the metadata service was down would fail for ever.
        if self._sts is None:
            with self._client_creation:
                if self._base.get_credentials() is None:
                    raise NoCredentialsError()
                self._sts = self._base.client("sts", region_name=self._region)
        return self._sts


class _Fixed(CredentialProvider):
    """Hands every Session of a role the one credentials object they share."""

    METHOD = "assume-role"

    def __init__(self, credentials: Any) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> Any:
        return self._credentials


def _sorted_error(e: BotoCoreError | ClientError, role_arn: str) -> AssumeRoleError:
    if isinstance(e, BotoConnectionError | HTTPClientError):
        return AssumeRoleUnavailable(role_arn, str(e))
    if isinstance(e, NoCredentialsError):
        return AssumeRoleDenied(role_arn, "the bot has no AWS credentials of its own")
    if not isinstance(e, ClientError):
        return AssumeRoleDenied(role_arn, str(e))
    code = error_code(e)
    message = e.response.get("Error", {}).get("Message", "")
    status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    if code in RETRYABLE_CODES or status >= 500:
        return AssumeRoleUnavailable(role_arn, f"{code or status}: {message}")
    return AssumeRoleDenied(role_arn, f"{code}: {message}")
