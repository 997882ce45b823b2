"""Ask a cluster, as the bot, whether it answers and may make the requests the bot needs.

One `/version` call says whether the cluster answers (and accepts the bot's credentials), then a
SelfSubjectAccessReview per request: the cluster's own authorizers decide (RBAC, and on EKS the
access policies of the bot's access entry), so the answer is the one a grant would meet. Every
authenticated user may create SelfSubjectAccessReviews (the `system:basic-user` ClusterRole).
Where the bot needs aws-auth and may read it, it reads it once too: a missing one fails every
grant, and the bot never creates it.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from kubernetes import client
from kubernetes.client import ApiException

from bot.adapters.kubernetes.aws_auth_store import NAME, NAMESPACE, OBJECT, AwsAuthStore
from bot.adapters.kubernetes.errors import KUBE_ERRORS, api_error
from bot.adapters.kubernetes.permissions import Access
from bot.domain.errors import EksAccessError

#: (connect, read) seconds per call. The preflight makes each call once (no urllib3 retries),
#: so a cluster that does not answer costs one timeout, not four.
PREFLIGHT_TIMEOUT = (5.0, 10.0)
_PARALLEL_REVIEWS = 4
_READ_AWS_AUTH = Access("get", "", "configmaps", NAMESPACE, NAME)


@dataclass(frozen=True)
class AccessReport:
    answered: bool  # the API server answered at all (possibly to refuse the bot)
    version: str | None  # its Kubernetes version, when it answered the bot
    problem: str | None  # why the requests could not be reviewed: a sentence
    missing: tuple[Access, ...] = ()  # reviewed and not allowed
    aws_auth_problem: str | None = None  # aws-auth is needed, readable, and missing


def review_access(
    api: client.ApiClient,
    needs: Sequence[Access],
    *,
    timeout: tuple[float, float] = PREFLIGHT_TIMEOUT,
) -> AccessReport:
    """Whether the cluster behind `api` answers, and which of `needs` it does not allow."""
    host = api.configuration.host
    with _without_retries(api) as once:
        try:
            info = client.VersionApi(once).get_code(_request_timeout=timeout)
        except KUBE_ERRORS as e:
            if isinstance(e, ApiException) and e.status == 401:
                refused = f"{host} does not accept the bot's credentials (401 Unauthorized)."
                return AccessReport(True, None, refused)
            answered = isinstance(e, ApiException) and bool(e.status)
            return AccessReport(answered, None, str(api_error(e, f"reach {host}")))
        version = info.git_version
        authz = client.AuthorizationV1Api(once)
        try:
            with ThreadPoolExecutor(_PARALLEL_REVIEWS, thread_name_prefix="preflight") as pool:
                allowed = list(pool.map(lambda a: _allowed(authz, a, timeout), needs))
        except KUBE_ERRORS as e:
            return AccessReport(True, version, str(api_error(e, "ask what the bot may do")))
        missing = tuple(a for a, ok in zip(needs, allowed, strict=True) if not ok)
        readable = _READ_AWS_AUTH in needs and _READ_AWS_AUTH not in missing
        aws_auth = _aws_auth_problem(once, timeout) if readable else None
    return AccessReport(True, version, None, missing, aws_auth)


def _aws_auth_problem(api: client.ApiClient, timeout: tuple[float, float]) -> str | None:
    try:
        data = AwsAuthStore(api, request_timeout=timeout).read()
    except EksAccessError as e:
        return str(e)
    if data is None:
        return (
            f"{OBJECT} does not exist, so no IAM principal can be mapped and every grant "
            "would fail. EKS creates it with the first node group; the bot never does."
        )
    return None


def _allowed(
    authz: client.AuthorizationV1Api, access: Access, timeout: tuple[float, float]
) -> bool:
    review = client.V1SelfSubjectAccessReview(
        spec=client.V1SelfSubjectAccessReviewSpec(
            resource_attributes=client.V1ResourceAttributes(
                verb=access.verb,
                group=access.group,
                resource=access.resource,
                namespace=access.namespace,
                name=access.name,
            )
        )
    )
    answer = authz.create_self_subject_access_review(review, _request_timeout=timeout)
    return bool(answer.status and answer.status.allowed)


def _without_retries(api: client.ApiClient) -> client.ApiClient:
    """A client with `api`'s server, CA and credentials (its token hook too), retrying nothing."""
    cfg = copy.deepcopy(api.configuration)
    cfg.retries = 0
    return client.ApiClient(cfg)
