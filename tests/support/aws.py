"""pytest plugin: moto's server on loopback, so the AWS adapters are tested over real HTTP.

`moto_server` starts one server per session; `fresh_moto` gives a test empty AWS state.
While the server runs, the environment is cleared of AWS settings so that nothing on the
machine (profiles, credentials, endpoint overrides, the instance metadata service) is read.
"""

from __future__ import annotations

import logging
import os
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

REGION = "eu-west-1"
ACCOUNT_ID = "123456789012"  # moto's default account


@dataclass(frozen=True)
class MotoServer:
    url: str
    region: str = REGION
    account_id: str = ACCOUNT_ID
    _clients: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def session(self, access_key: str = "testing", secret_key: str = "testing") -> boto3.Session:
        """A session with fake (or moto-issued) credentials; pass `endpoint_url=self.url`."""
        return boto3.Session(
            aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name=self.region
        )

    def client(self, service: str) -> Any:
        """A client for arranging test state; cached, because building one takes ~0.1 s."""
        if service not in self._clients:
            self._clients[service] = self.session().client(service, endpoint_url=self.url)
        return self._clients[service]

    def reset(self) -> None:
        """Forget every resource and stop enforcing IAM policies."""
        self.stop_enforcing_iam_policies()
        self._post("/moto-api/reset", b"")

    def enforce_iam_policies(self) -> None:
        """From the next request on, moto checks credentials and IAM policies like AWS does."""
        self._post("/moto-api/reset-auth", b"0")

    def stop_enforcing_iam_policies(self) -> None:
        self._post("/moto-api/reset-auth", b"inf")

    def _post(self, path: str, body: bytes) -> None:
        # text/plain: with a form content type Flask consumes the body and moto reads nothing.
        request = urllib.request.Request(
            self.url + path, data=body, method="POST", headers={"Content-Type": "text/plain"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()


def _isolate_from_machine_aws_config(mp: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            mp.delenv(name)
    mp.setenv("AWS_CONFIG_FILE", "/dev/null")
    mp.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    mp.setenv("AWS_ACCESS_KEY_ID", "testing")
    mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    mp.setenv("AWS_DEFAULT_REGION", REGION)
    mp.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("NO_PROXY", "no_proxy"):
        mp.setenv(name, ",".join(filter(None, [os.environ.get(name), "127.0.0.1", "localhost"])))


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    from moto.server import ThreadedMotoServer

    werkzeug_log = logging.getLogger("werkzeug")
    werkzeug_level = werkzeug_log.level
    with pytest.MonkeyPatch.context() as mp:
        _isolate_from_machine_aws_config(mp)
        # Loading EC2's stock AMIs makes every reset after the first EC2 call ~20x slower.
        mp.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
        werkzeug_log.setLevel(logging.WARNING)  # one line per request otherwise
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        try:
            host, port = server.get_host_and_port()
            yield MotoServer(url=f"http://{host}:{port}")
        finally:
            server.stop()
            werkzeug_log.setLevel(werkzeug_level)


@pytest.fixture
def fresh_moto(moto_server: MotoServer) -> Iterator[MotoServer]:
    moto_server.reset()
    yield moto_server
    moto_server.stop_enforcing_iam_policies()  # so that tests without fresh_moto are not denied
