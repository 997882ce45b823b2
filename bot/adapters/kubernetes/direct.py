"""The bot's API calls, made through the `ApiClient` without the generated API classes'
wrappers.

The generated methods validate every argument with pydantic (`validate_call`) before the
request goes out: about a millisecond per call here, several per approval. And the generated
modules are costly to load: `CoreV1Api` about 20 MB for the bot's three ConfigMap calls,
`RbacAuthorizationV1Api` 3 MB. The bot loads neither (`check-config` does). These calls go
through the same `ApiClient` steps the generated methods use (`param_serialize`, `call_api`,
`response_deserialize`), so authentication, TLS, timeouts, the models and `ApiException` are
the library's own.
"""

from __future__ import annotations

from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

_HEADERS = {"Accept": "application/json", "Content-Type": "application/json"}
CONFIG_MAPS = "/api/v1/namespaces/{namespace}/configmaps"
_RBAC = "/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}"
ROLES = _RBAC + "/roles"
ROLE_BINDINGS = _RBAC + "/rolebindings"


class DirectCalls:
    def __init__(self, api_client: client.ApiClient, timeout: Any) -> None:
        self._api = api_client
        self._timeout = timeout

    def read(self, collection: str, namespace: str, name: str, model: str) -> Any:
        """The object as `model` (e.g. "V1Role"); ApiException (404…) when it is not there."""
        return self._call("GET", collection + "/{name}", namespace, name, None, model)

    def create(self, collection: str, namespace: str, body: Any, model: str | None) -> Any:
        """POST `body` (a model or a plain dict); the created object as `model`, or nothing
        when `model` is None (the answer is then not even parsed)."""
        return self._call("POST", collection, namespace, None, body, model)

    def replace(self, collection: str, namespace: str, name: str, body: Any, model: str) -> Any:
        return self._call("PUT", collection + "/{name}", namespace, name, body, model)

    def delete(self, collection: str, namespace: str, name: str, body: Any) -> None:
        self._call("DELETE", collection + "/{name}", namespace, name, body, None)

    def list_raw(
        self, collection: str, namespace: str, query: dict[str, Any], accept: str
    ) -> bytes:
        """The answer's body as sent (`accept`: its media type), for a caller that reads only
        a few fields of many objects; `query`'s None values are left out."""
        request = self._api.param_serialize(
            method="GET",
            resource_path=collection,
            path_params={"namespace": namespace},
            query_params=[(k, v) for k, v in query.items() if v is not None],
            header_params={"Accept": accept},
            auth_settings=["BearerToken"],
        )
        response = self._api.call_api(*request, _request_timeout=self._timeout)
        response.read()
        if not 200 <= response.status <= 299:
            text = response.data.decode("utf-8", "replace") if response.data else None
            raise ApiException.from_response(http_resp=response, body=text, data=None)
        return bytes(response.data or b"")

    def _call(
        self,
        method: str,
        path: str,
        namespace: str,
        name: str | None,
        body: Any,
        model: str | None,
    ) -> Any:
        params = {"namespace": namespace} | ({"name": name} if name is not None else {})
        request = self._api.param_serialize(
            method=method,
            resource_path=path,
            path_params=params,
            header_params=dict(_HEADERS),
            body=body,
            auth_settings=["BearerToken"],
        )
        response = self._api.call_api(*request, _request_timeout=self._timeout)
        response.read()
        if model is None:
            if not 200 <= response.status <= 299:
                text = response.data.decode("utf-8", "replace") if response.data else None
                raise ApiException.from_response(http_resp=response, body=text, data=None)
            return None
        answer: Any = self._api.response_deserialize(response, {"2XX": model})  # raises on non-2xx
        return answer.data
