"""A Kubernetes API client for an EKS cluster, from `describe_cluster` and an STS-signed token."""

from __future__ import annotations

import base64
import ssl
from collections.abc import Callable
from datetime import datetime
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from bot.adapters.aws.eks_token import EksTokenSource
from bot.adapters.aws.errors import aws_error
from bot.adapters.aws.sessions import AssumeRoleError
from bot.adapters.kubernetes.connection import ApiClient, api_client_with_token
from bot.domain.errors import PermanentError, TransientError


def eks_api_client(
    *,
    cluster_name: str,
    region: str,
    session: boto3.Session,
    clock: Callable[[], datetime],
    endpoint_url: str | None = None,
) -> ApiClient:
    """An API client for `cluster_name` that signs in as `session`'s IAM identity.

    `endpoint_url` redirects the EKS API (tests use moto); the token always names the public
    regional STS host, because that is where the cluster's authenticator checks it.
    Raises PermanentError/TransientError.
    """
    eks = session.client("eks", region_name=region, endpoint_url=endpoint_url)
    return api_client_for(
        describe_cluster(eks, cluster_name), session=session, region=region, clock=clock
    )


def api_client_for(
    cluster: dict[str, Any],
    *,
    session: boto3.Session,
    region: str,
    clock: Callable[[], datetime],
) -> ApiClient:
    """The API client for a cluster already described (`describe_cluster`)."""
    cluster_name = str(cluster.get("name", ""))
    endpoint, ca_pem = _endpoint_and_ca(cluster, cluster_name, region)
    tokens = EksTokenSource(cluster_name=cluster_name, region=region, session=session, clock=clock)
    return api_client_with_token(endpoint, ca_pem, tokens)


def authentication_mode(eks_client: Any, name: str) -> str | None:
    """CONFIG_MAP, API_AND_CONFIG_MAP or API; None when EKS (or moto) does not say."""
    return mode_of(describe_cluster(eks_client, name))


def mode_of(cluster: dict[str, Any]) -> str | None:
    mode = cluster.get("accessConfig", {}).get("authenticationMode")
    return str(mode) if mode is not None else None


def describe_cluster(eks_client: Any, name: str) -> dict[str, Any]:
    region = eks_client.meta.region_name
    try:
        cluster: dict[str, Any] = eks_client.describe_cluster(name=name)["cluster"]
    except AssumeRoleError as e:
        raise e.for_cluster(name) from e
    except (BotoCoreError, ClientError) as e:
        raise aws_error(
            e,
            action=f"look up EKS cluster '{name}' in region {region}",
            not_found=f"EKS cluster '{name}' not found in region {region}.",
        ) from e
    cluster.setdefault("name", name)
    return cluster


def _endpoint_and_ca(cluster: dict[str, Any], name: str, region: str) -> tuple[str, str]:
    endpoint = cluster.get("endpoint")
    ca_data = cluster.get("certificateAuthority", {}).get("data")
    if not endpoint or not ca_data:
        status = cluster.get("status", "UNKNOWN")
        error = TransientError if status == "CREATING" else PermanentError
        raise error(
            f"EKS cluster '{name}' in region {region} has no API endpoint (status {status})."
        )
    return str(endpoint), _pem_from_base64(str(ca_data), name=name, region=region)


def _pem_from_base64(data: str, *, name: str, region: str) -> str:
    """EKS returns the cluster CA as base64 of PEM text; check it here, not on first request."""
    try:
        pem = base64.b64decode(data, validate=True).decode("ascii")
        if "-----BEGIN CERTIFICATE-----" not in pem:
            raise ValueError("no PEM certificate")
        ssl.create_default_context(cadata=pem)
    except (ValueError, ssl.SSLError) as e:  # binascii.Error and UnicodeDecodeError included
        raise PermanentError(
            f"EKS cluster '{name}' in region {region} returned a certificate authority that "
            "is not a PEM certificate, so the bot cannot verify its API server."
        ) from e
    return pem
