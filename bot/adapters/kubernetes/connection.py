"""Building an ApiClient. The gateway takes any ApiClient, so EKS token auth can be handed in."""

from __future__ import annotations

from typing import Protocol

from kubernetes import client, config
from kubernetes.client import ApiClient


class BearerTokenSource(Protocol):
    def token(self) -> str:
        """The current token; called before every request, so it must be cheap."""
        ...


def api_client_from_kubeconfig(path: str, context: str | None = None) -> ApiClient:
    """An ApiClient for one kubeconfig file and context, without touching the global default.

    `load_kube_config` only sets `Configuration.set_default` when no configuration is passed
    in, so several clusters (or identities, as in the tests) can live in one process.
    """
    cfg = client.Configuration()
    config.load_kube_config(
        config_file=path, context=context, client_configuration=cfg, persist_config=False
    )
    # Worker threads share one client; urllib3's default of one pooled connection per host
    # would make every concurrent call open and drop a fresh TLS connection.
    cfg.connection_pool_maxsize = 8
    # The proxy the environment names (HTTPS_PROXY…, usually none), resolved once: a token
    # kubeconfig's refresh hook sets the host again before every request, and the client
    # would then read the whole environment again for its proxy each time.
    cfg.proxy = cfg.proxy
    return ApiClient(cfg)


def api_client_with_token(endpoint: str, ca_pem: str, token_source: BearerTokenSource) -> ApiClient:
    """The ApiClient of `configuration_for` (an EKS endpoint, its CA and a signed token)."""
    return ApiClient(configuration_for(endpoint, ca_pem, token_source))


def configuration_for(
    endpoint: str, ca_pem: str, token_source: BearerTokenSource
) -> client.Configuration:
    """A client configuration that trusts only `ca_pem` and sends `token_source`'s token.

    The token is seeded before the hook is set: the client emits the Authorization header only
    for a key already present in `api_key`, and the hook runs only while emitting it.
    """
    cfg = client.Configuration(host=endpoint.rstrip("/"), ca_cert_data=ca_pem)
    cfg.api_key = {"BearerToken": token_source.token()}
    cfg.api_key_prefix = {"BearerToken": "Bearer"}

    def refresh(c: client.Configuration) -> None:
        c.api_key["BearerToken"] = token_source.token()

    # The library declares the attribute as `None` only (its __init__ assigns nothing else).
    cfg.refresh_api_key_hook = refresh  # type: ignore[assignment]
    return cfg
