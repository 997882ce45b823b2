"""`ClusterGateway` over the Kubernetes API: identity mappings and grant RBAC."""

from __future__ import annotations

from typing import Protocol

from kubernetes import client

from bot.adapters.kubernetes.aws_auth_mapper import AwsAuthMapper
from bot.adapters.kubernetes.aws_auth_store import AwsAuthStore
from bot.adapters.kubernetes.rbac import ROLE_FRESH_FOR, RbacStore
from bot.adapters.kubernetes.retry import ConflictBackoff
from bot.domain.errors import PermanentError
from bot.domain.grants import MappedIdentity
from bot.domain.ports import OwnedClusterState
from bot.domain.principals import Identity, Principal
from bot.domain.rbac import RbacGrant


class IdentityMapper(Protocol):
    """Where a cluster maps IAM principals to usernames: aws-auth or EKS access entries."""

    def ensure(self, identity: Identity) -> MappedIdentity: ...

    def remove(self, principal: Principal) -> None: ...

    def owned_arns(self) -> set[str]: ...

    def prefetch(self, identity: Identity) -> None:
        """An `ensure(identity)` follows shortly: start reading what it will need, and let
        changes written meanwhile wait briefly for it (or nothing)."""
        ...


class KubernetesClusterGateway:
    """One cluster, reached through `api_client` (from a kubeconfig or an EKS token).

    mapper: where identities are mapped; aws-auth through `api_client` when not given.
    refuse_new_mappings: why the cluster cannot take new mappings (a `mapping` setting its
        authentication mode contradicts); removing the bot's own goes on as usual.
    create_aws_auth: whether a missing aws-auth may be created (see `AwsAuthStore`).
    request_timeout: seconds per API call, (connect, read); a hung apiserver becomes a
        TransientError instead of a stuck worker.
    role_fresh_for: seconds a profile Role found as it should be is not read again
        (`bot.adapters.kubernetes.rbac.ROLE_FRESH_FOR`).
    """

    def __init__(
        self,
        api_client: client.ApiClient,
        *,
        mapper: IdentityMapper | None = None,
        refuse_new_mappings: PermanentError | None = None,
        create_aws_auth: bool = False,
        request_timeout: float | tuple[float, float] = (5.0, 30.0),
        role_fresh_for: float = ROLE_FRESH_FOR,
    ) -> None:
        backoff = ConflictBackoff()
        self.mapper = mapper or AwsAuthMapper(
            AwsAuthStore(
                api_client,
                backoff=backoff,
                create_if_missing=create_aws_auth,
                request_timeout=request_timeout,
            )
        )
        self._rbac = RbacStore(
            api_client,
            backoff=backoff,
            request_timeout=request_timeout,
            role_fresh_for=role_fresh_for,
        )
        self._refusal = refuse_new_mappings

    def ensure_mapping(self, identity: Identity) -> MappedIdentity:
        if self._refusal is not None:
            raise self._refusal
        return self.mapper.ensure(identity)

    def remove_mapping(self, principal: Principal) -> None:
        self.mapper.remove(principal)

    def prepare_mapping(self, identity: Identity) -> None:
        if self._refusal is None:
            self.mapper.prefetch(identity)

    def ensure_rbac(self, rbac: RbacGrant) -> None:
        self._rbac.ensure_rbac(rbac)

    def delete_rbac(self, grant_id: str, namespace: str) -> None:
        self._rbac.delete_rbac(grant_id, namespace)

    def owned_state(self, namespaces: set[str]) -> OwnedClusterState:
        bindings = {ns: self._rbac.owned_binding_ids(ns) for ns in sorted(namespaces)}
        return OwnedClusterState(bindings=bindings, mapped_arns=self.mapper.owned_arns())
