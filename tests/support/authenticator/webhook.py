"""The model served as the TokenReview webhook of the test kube-apiserver, on loopback HTTP.

`TokenReviewWebhook` turns each review's token into a caller, reads the live sources, resolves it
with `resolve` and records what it answered, so a test can ask afterwards why a request was let
in or refused. `token_review_status` is the `status` the authenticator sends back.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from kubernetes import client

from tests.support.authenticator.mapping import API, CONFIG_MAP, Resolution, resolve
from tests.support.authenticator.sources import EksCluster, _ConfigMapReader, _EksReader
from tests.support.authenticator.tokens import InvalidToken, caller_identity, parse_token


@dataclass(frozen=True)
class Review:
    """One TokenReview: whom the token named and what the model answered."""

    arn: str | None  # None: not an eks-test token
    session: str | None
    resolution: Resolution


@dataclass
class _Settings:
    eks: _EksReader | None = None
    sso_role_match: bool = False
    ec2_private_dns_names: dict[str, str] = field(default_factory=dict)


class TokenReviewWebhook:
    """The model as an `authentication.k8s.io/v1beta1` TokenReview webhook on loopback HTTP.

    Each review reads what it needs live: the cluster's mode and the access entries naming the
    caller (when `use_eks` was given a cluster), and aws-auth (once `read_aws_auth_from` was
    given an admin kubeconfig). Case-variant mapUsers duplicates with different answers, which
    the real authenticator picks from at random, are refused here (logged as ambiguous), so a
    test never passes by luck.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._settings = _Settings()
        self._aws_auth: _ConfigMapReader | None = None
        self._reviews: list[Review] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="token-webhook", daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/authenticate"

    # -- configuration -------------------------------------------------------------------------

    def read_aws_auth_from(self, kubeconfig: str) -> None:
        """Read kube-system/aws-auth with this (admin) kubeconfig; until then, none is mapped."""
        reader = _ConfigMapReader(kubeconfig)
        with self._lock:
            old, self._aws_auth = self._aws_auth, reader
        if old is not None:
            old.close()

    def use_eks(self, cluster: EksCluster | None) -> None:
        """Consult this EKS API (mode, access entries) before aws-auth; None: aws-auth only."""
        reader = _EksReader(cluster) if cluster is not None else None
        with self._lock:
            old, self._settings.eks = self._settings.eks, reader
        if old is not None:
            old.close()

    def configure(
        self,
        *,
        sso_role_match: bool | None = None,
        ec2_private_dns_names: Mapping[str, str] | None = None,
    ) -> None:
        """The SSORoleMatch gate, and EC2 instance id → private DNS name for the node template."""
        with self._lock:
            if sso_role_match is not None:
                self._settings.sso_role_match = sso_role_match
            if ec2_private_dns_names is not None:
                self._settings.ec2_private_dns_names = dict(ec2_private_dns_names)

    def reset(self) -> None:
        """No EKS cluster, gates off, no EC2 names, no recorded reviews (aws-auth stays live)."""
        with self._lock:
            old, self._settings = self._settings, _Settings()
            self._reviews.clear()
        if old.eks is not None:
            old.eks.close()

    # -- reviews -------------------------------------------------------------------------------

    @property
    def reviews(self) -> list[Review]:
        with self._lock:
            return list(self._reviews)

    def reviews_of(self, arn: str) -> list[Review]:
        return [r for r in self.reviews if r.arn == arn]

    def review(self, token: str) -> Review:
        """Resolve `token` against the live sources, record it, and return it."""
        try:
            arn, session = parse_token(token)
        except InvalidToken as exc:
            review = Review(None, None, Resolution(False, reason=str(exc)))
        else:
            try:
                resolution = self._resolve_live(arn, session)
            except Exception as exc:  # a bug in the model: a recorded refusal, not a hung apiserver
                resolution = Resolution(False, reason=f"model error: {exc!r}")
            review = Review(arn, session, resolution)
        with self._lock:
            self._reviews.append(review)
        return review

    def _resolve_live(self, arn: str, session: str | None) -> Resolution:
        with self._lock:
            eks, aws_auth = self._settings.eks, self._aws_auth
            sso, ec2 = self._settings.sso_role_match, dict(self._settings.ec2_private_dns_names)
        try:
            caller = caller_identity(arn, session)
        except InvalidToken as exc:
            return Resolution(False, reason=str(exc))
        mode, entries = CONFIG_MAP, None
        try:
            if eks is not None:
                mode = eks.mode()
                entries = eks.entries_naming(caller) if mode != CONFIG_MAP else []
            data = aws_auth.read() if aws_auth is not None and mode != API else None
        except (ClientError, BotoCoreError, client.ApiException, OSError) as exc:
            return Resolution(False, reason=f"could not read the mappings: {exc}")
        return resolve(
            data,
            entries,
            arn,
            session,
            authentication_mode=mode,
            sso_role_match=sso,
            ec2_private_dns_names=ec2,
        )

    # -- lifecycle -----------------------------------------------------------------------------

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        self.use_eks(None)
        if self._aws_auth is not None:
            self._aws_auth.close()
            self._aws_auth = None

    def __enter__(self) -> TokenReviewWebhook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def token_review_status(review: Review) -> dict[str, Any]:
    """The `status` the authenticator sends (`authenticateEndpoint`), uid and extra included.

    A refusal is sent as 200 with `authenticated: false` (the authenticator sends 403, which the
    apiserver turns into the same 401 after logging an error).
    """
    resolution = review.resolution
    if not resolution.authenticated or review.arn is None:
        return {"authenticated": False}
    caller = caller_identity(review.arn, review.session)
    extra = {
        "arn": [caller.arn],
        "canonicalArn": [caller.canonical_arn],
        "sessionName": [caller.session_name],
        "principalId": [caller.principal_id],
        "sigs.k8s.io/aws-iam-authenticator/principalId": [caller.principal_id],
    }
    return {
        "authenticated": True,
        "user": {
            "username": resolution.username,
            "uid": f"aws-iam-authenticator:{caller.account_id}:{caller.principal_id}",
            "groups": list(resolution.groups),
            "extra": extra,
        },
    }


def _handler_for(webhook: TokenReviewWebhook) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # A reply's headers and body go out in two writes; with Nagle's algorithm the body
        # waits for the client's delayed ACK, 40 ms for most replies.
        disable_nagle_algorithm = True
        protocol_version = "HTTP/1.1"  # keep-alive: the apiserver reuses its connection

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
                token = str(body.get("spec", {}).get("token", ""))
            except (ValueError, AttributeError):
                self._reply(400, {"error": "expected a TokenReview"})
                return
            status = token_review_status(webhook.review(token))
            self._reply(
                200,
                {
                    "apiVersion": body.get("apiVersion") or "authentication.k8s.io/v1beta1",
                    "kind": "TokenReview",
                    "status": status,
                },
            )

        def _reply(self, code: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler
