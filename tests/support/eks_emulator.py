"""pytest plugin: the EKS API (clusters, access entries) on loopback; moto 5.2.5 lacks both.

boto3's `eks` client reaches it with `endpoint_url=emulator.url`, a child process through
`AWS_ENDPOINT_URL_EKS` (`emulator.environ()`). The rules live in `eks_model`; this module is the
restJson1 wire: routes from botocore's model, the caller from the SigV4 `Authorization` header,
errors as AWS sends them. `eks_emulator` serves one per session; `fresh_eks` empties it.
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.support.eks_model import EksError, EksModel, Json, Request, fail

# (method, path with * for a label, operation). A label arrives percent-encoded ("/" as %2F).
_ROUTES = (
    ("GET", "clusters/*", "DescribeCluster"),
    ("GET", "clusters/*/access-entries", "ListAccessEntries"),
    ("POST", "clusters/*/access-entries", "CreateAccessEntry"),
    ("GET", "clusters/*/access-entries/*", "DescribeAccessEntry"),
    ("POST", "clusters/*/access-entries/*", "UpdateAccessEntry"),
    ("DELETE", "clusters/*/access-entries/*", "DeleteAccessEntry"),
    ("GET", "clusters/*/access-entries/*/access-policies", "ListAssociatedAccessPolicies"),
    ("POST", "clusters/*/access-entries/*/access-policies", "AssociateAccessPolicy"),
    ("DELETE", "clusters/*/access-entries/*/access-policies/*", "DisassociateAccessPolicy"),
    ("GET", "access-policies", "ListAccessPolicies"),
    ("GET", "tags/*", "ListTagsForResource"),
    ("POST", "tags/*", "TagResource"),
    ("DELETE", "tags/*", "UntagResource"),
)
_CREDENTIAL = re.compile(r"Credential=(?P<key>[^/,\s]+)/\d{8}/(?P<region>[^/]+)/")
_STATUS = {
    "AccessDeniedException": 403,
    "InvalidParameterException": 400,
    "InvalidRequestException": 400,
    "MissingAuthenticationTokenException": 403,
    "NotFoundException": 404,
    "ResourceInUseException": 409,
    "ResourceNotFoundException": 404,
    "UnknownOperationException": 404,
}


@dataclass(frozen=True)
class Call:
    """One request as the emulator understood it, recorded before any check."""

    operation: str
    cluster: str | None
    principal_arn: str | None
    access_key: str
    account: str  # account_of(access_key)
    region: str


def moto_account_of(access_key: str) -> str:
    """The account moto issued `access_key` in (STS AssumeRole keys too), else its default.

    It works because ThreadedMotoServer keeps its state in this process.
    """
    from moto.iam.models import get_account_id_from

    return get_account_id_from(access_key)


class EksEmulator(EksModel):
    """An `EksModel` served on http://127.0.0.1:<port>, recording every call in `calls`."""

    def __init__(
        self, *, account_of: Callable[[str], str], clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__(clock=clock)
        self.calls: list[Call] = []
        #: Operations answered AccessDeniedException, as AWS answers a caller whose IAM policy
        #: lacks the action (it authorizes before it looks anything up).
        self.denied: set[str] = set()
        self._account_of = account_of
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,))
        self._thread.daemon = True
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def environ(self) -> dict[str, str]:
        """What a child process needs for its boto3 `eks` clients to come here."""
        return {"AWS_ENDPOINT_URL_EKS": self.url}

    def reset(self) -> None:
        super().reset()
        self.calls.clear()
        self.denied.clear()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> EksEmulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def handle(self, method: str, raw_path: str, authorization: str, body: Json) -> Json:
        credential = _CREDENTIAL.search(authorization)
        if credential is None:
            fail("MissingAuthenticationTokenException", "Missing Authentication Token")
        path, _, query = raw_path.partition("?")
        operation, labels = _route(method, path)
        key, region = credential["key"], credential["region"]
        r = Request(self._account_of(key), region, labels, urllib.parse.parse_qs(query), body)
        cluster = labels[0] if path.startswith("/clusters/") else None
        principal = labels[1] if len(labels) > 1 else body.get("principalArn")
        self.calls.append(Call(operation, cluster, principal, key, r.account, region))
        if operation in self.denied:
            fail(
                "AccessDeniedException",
                f"User: arn:aws:iam::{r.account}:user/{key} is not authorized to perform: "
                f"eks:{operation} on resource: arn:aws:eks:{region}:{r.account}:cluster/{cluster}",
            )
        return self.run(operation, r)


def _route(method: str, path: str) -> tuple[str, list[str]]:
    """Match the raw path, so that a label's %2F is no separator, then decode the labels."""
    for route_method, pattern, operation in _ROUTES:
        match = re.fullmatch(pattern.replace("*", "([^/]+)"), path.strip("/"))
        if route_method == method and match:
            return operation, [urllib.parse.unquote(label) for label in match.groups()]
    fail("UnknownOperationException", f"No operation for {method} {path}")


def _handler_for(emulator: EksEmulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # A reply's headers and body go out in two writes; with Nagle's algorithm the body
        # waits for the client's delayed ACK, 40 ms for most replies.
        disable_nagle_algorithm = True
        protocol_version = "HTTP/1.1"  # botocore reuses connections; every reply has a length

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            authorization = self.headers.get("Authorization", "")
            try:
                body = json.loads(raw) if raw else {}
                self._reply(200, emulator.handle(self.command, self.path, authorization, body))
            except EksError as e:
                self._reply(_STATUS[e.code], {"message": e.message}, e.code)
            except Exception as e:  # a bug here, or a body the model does not expect
                self._reply(500, {"message": f"emulator: {e!r}"}, "ServerException")

        do_POST = do_DELETE = do_GET

        def _reply(self, status: int, body: Json, code: str | None = None) -> None:
            data = json.dumps({k: v for k, v in body.items() if v is not None}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
            if code:  # restJson1 names the error here; botocore reads it before the body
                error_type = f"{code}:http://internal.amazon.com/coral/com.amazonaws.eks/"
                self.send_header("x-amzn-ErrorType", error_type)
            self.end_headers()
            self.wfile.write(data)

    return Handler


@pytest.fixture(scope="session")
def eks_emulator() -> Iterator[EksEmulator]:
    with EksEmulator(account_of=moto_account_of) as emulator:
        yield emulator


@pytest.fixture
def fresh_eks(eks_emulator: EksEmulator) -> EksEmulator:
    """The session's emulator with no clusters and no recorded calls."""
    eks_emulator.reset()
    return eks_emulator
