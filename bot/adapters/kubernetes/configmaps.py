"""The three ConfigMap calls the bot makes (read, create, replace), without `CoreV1Api`.

`CoreV1Api` is one generated module of the whole core group (pods, nodes, services, …): loading
it costs about 20 MB of the bot's memory, for the three calls on aws-auth. These go through the
same `ApiClient` the generated methods use (`param_serialize`, `call_api`,
`response_deserialize`), so authentication, TLS, timeouts and `ApiException` are the library's.
"""

from __future__ import annotations

from typing import Any

from kubernetes import client

_PATH = "/api/v1/namespaces/{namespace}/configmaps"
_HEADERS = {"Accept": "application/json", "Content-Type": "application/json"}


class ConfigMaps:
    def __init__(self, api_client: client.ApiClient) -> None:
        self._api = api_client

    def read(self, name: str, namespace: str, *, timeout: Any) -> client.V1ConfigMap:
        return self._call("GET", f"{_PATH}/{{name}}", name, namespace, None, timeout)

    def create(
        self, namespace: str, body: client.V1ConfigMap, *, timeout: Any
    ) -> client.V1ConfigMap:
        return self._call("POST", _PATH, None, namespace, body, timeout)

    def replace(
        self, name: str, namespace: str, body: client.V1ConfigMap, *, timeout: Any
    ) -> client.V1ConfigMap:
        return self._call("PUT", f"{_PATH}/{{name}}", name, namespace, body, timeout)

    def _call(
        self,
        method: str,
        path: str,
        name: str | None,
        namespace: str,
        body: client.V1ConfigMap | None,
        timeout: Any,
    ) -> client.V1ConfigMap:
        params = {"namespace": namespace} | ({"name": name} if name is not None else {})
        request = self._api.param_serialize(
            method=method,
            resource_path=path,
            path_params=params,
            header_params=dict(_HEADERS),
            body=body,
            auth_settings=["BearerToken"],
        )
        response = self._api.call_api(*request, _request_timeout=timeout)
        response.read()
        typed = {"200": "V1ConfigMap", "201": "V1ConfigMap"}
        answer: Any = self._api.response_deserialize(response, typed)  # raises on non-2xx
        return answer.data
