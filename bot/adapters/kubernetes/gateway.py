"""`ClusterGateway` over the Kubernetes API: aws-auth mappings, grant RBAC, access reviews."""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from kubernetes import client

from bot.adapters.kubernetes.aws_auth_store import OBJECT as AWS_AUTH
from bot.adapters.kubernetes.aws_auth_store import AwsAuthStore
from bot.adapters.kubernetes.rbac import RbacStore
from bot.adapters.kubernetes.retry import ConflictBackoff
from bot.domain import aws_auth
from bot.domain.errors import PermanentError
from bot.domain.ports import OwnedClusterState
from bot.domain.principals import Principal
from bot.domain.rbac import RbacGrant


class KubernetesClusterGateway:
    """One cluster, reached through `api_client` (from a kubeconfig or an EKS token).

    sleep, rng: used only between retries after a 409 conflict; tests pass fakes.
    create_aws_auth: whether a missing aws-auth may be created (see `AwsAuthStore`).
    request_timeout: seconds per API call, (connect, read); a hung apiserver becomes a
        TransientError instead of a stuck worker.
    """

    def __init__(
        self,
        api_client: client.ApiClient,
        *,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
        create_aws_auth: bool = False,
        request_timeout: float | tuple[float, float] = (5.0, 30.0),
    ) -> None:
        backoff = ConflictBackoff(sleep=sleep, rng=rng)
        self._aws_auth = AwsAuthStore(
            api_client,
            backoff=backoff,
            create_if_missing=create_aws_auth,
            request_timeout=request_timeout,
        )
        self._rbac = RbacStore(api_client, backoff=backoff, request_timeout=request_timeout)
        self._authz = client.AuthorizationV1Api(api_client)
        self._timeout = request_timeout

    def ensure_mapping(self, principal: Principal) -> str:
        arn = principal.mapping_arn
        owned = aws_auth.Mapping(kind=principal.kind, arn=arn, username=principal.username)

        def add_unless_mapped(data: dict[str, str]) -> dict[str, str]:
            # Runs between our read and our write, so the common case goes straight to the
            # editor (which leaves the data as is when our entry is already there).
            try:
                return aws_auth.with_mapping(data, owned)
            except ValueError as exc:
                existing = aws_auth.find_mapping(data, arn)
                if existing is not None and not existing.owned:
                    return data  # someone else maps this ARN; their entry decides (below)
                raise aws_auth.AwsAuthUnsafeEdit(f"Cannot map {arn} in {AWS_AUTH}: {exc}") from exc

        data = self._aws_auth.update(add_unless_mapped, create=True) or {}
        mapping = aws_auth.find_mapping(data, arn)
        if mapping is None:
            raise PermanentError(f"{arn} is still not mapped in {AWS_AUTH} after writing it")
        if mapping.owned:
            return principal.username
        if "{{" in mapping.username:
            raise PermanentError(
                f"{arn} is already mapped in {AWS_AUTH} by someone else, to the templated "
                f"username {mapping.username!r}. The bot cannot bind RBAC to a username that "
                "is only known at login; map the principal to a fixed username or remove "
                "that entry."
            )
        return mapping.username

    def remove_mapping(self, principal: Principal) -> None:
        arn = principal.mapping_arn
        self._aws_auth.update(lambda data: aws_auth.without_mapping(data, arn), create=False)

    def ensure_rbac(self, rbac: RbacGrant) -> None:
        self._rbac.ensure_rbac(rbac)

    def delete_rbac(self, grant_id: str, namespace: str) -> None:
        self._rbac.delete_rbac(grant_id, namespace)

    def owned_state(self, namespaces: set[str]) -> OwnedClusterState:
        bindings = {ns: self._rbac.owned_binding_ids(ns) for ns in sorted(namespaces)}
        data = self._aws_auth.read() or {}
        return OwnedClusterState(
            bindings=bindings, mapped_arns={m.arn for m in aws_auth.owned_mappings(data)}
        )
