"""Building an ApiClient. The gateway takes any ApiClient, so EKS token auth can be handed in."""

from __future__ import annotations

from kubernetes import client, config


def api_client_from_kubeconfig(path: str, context: str | None = None) -> client.ApiClient:
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
    return client.ApiClient(cfg)
