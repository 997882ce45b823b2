"""The live sources the webhook reads on every review: an EKS API and kube-system/aws-auth.

`EksCluster` names the EKS API to ask for the authentication mode and the access entries; each
reader holds a client of its own, which the webhook swaps and closes. Nothing is cached, so an
answer always reflects what the EKS API and the ConfigMap hold at the moment of the review.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError
from kubernetes import client, config

from tests.support.authenticator.mapping import CONFIG_MAP, access_entry_matches
from tests.support.authenticator.tokens import Caller


@dataclass(frozen=True)
class EksCluster:
    """Where the model reads the authentication mode and access entries, with boto3's `eks`.

    The credentials pick the account on emulators that derive it from the access key; the
    default key is unusual on purpose, so a test can tell the model's calls from the bot's.
    """

    name: str
    endpoint_url: str
    region: str = "us-east-1"
    access_key_id: str = "AKIAEKSAUTHNMODEL000"
    secret_access_key: str = "authenticator-model-secret"


class _EksReader:
    def __init__(self, cluster: EksCluster) -> None:
        self.cluster = cluster
        self._eks = boto3.session.Session(
            aws_access_key_id=cluster.access_key_id,
            aws_secret_access_key=cluster.secret_access_key,
            region_name=cluster.region,
        ).client(
            "eks",
            endpoint_url=cluster.endpoint_url,
            config=BotoConfig(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=5),
        )

    def mode(self) -> str:
        described = self._eks.describe_cluster(name=self.cluster.name)["cluster"]
        return str(described.get("accessConfig", {}).get("authenticationMode") or CONFIG_MAP)

    def entries_naming(self, caller: Caller) -> list[dict[str, Any]]:
        entries = []
        for page in self._eks.get_paginator("list_access_entries").paginate(
            clusterName=self.cluster.name
        ):
            for principal in page.get("accessEntries", []):
                if not access_entry_matches(principal, caller):
                    continue
                try:
                    entries.append(
                        self._eks.describe_access_entry(
                            clusterName=self.cluster.name, principalArn=principal
                        )["accessEntry"]
                    )
                except ClientError as exc:  # deleted between list and describe
                    if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                        raise
        return entries

    def close(self) -> None:
        self._eks.close()


class _ConfigMapReader:
    """kube-system/aws-auth through an ApiClient of its own (admin), read on every review."""

    def __init__(self, kubeconfig: str) -> None:
        cfg = client.Configuration()
        config.load_kube_config(
            config_file=kubeconfig, client_configuration=cfg, persist_config=False
        )
        cfg.connection_pool_maxsize = 4
        self._api = client.ApiClient(cfg)

    def read(self) -> dict[str, str] | None:
        try:
            cm = client.CoreV1Api(self._api).read_namespaced_config_map("aws-auth", "kube-system")
        except client.ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return dict(cm.data or {})

    def close(self) -> None:
        self._api.close()
