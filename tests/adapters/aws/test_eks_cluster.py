from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import kubernetes.client
import pytest
from moto.server import ThreadedMotoServer

from bot.adapters.aws.eks_cluster import authentication_mode, eks_api_client
from bot.adapters.aws.eks_token import EksTokenSource
from bot.adapters.kubernetes.connection import configuration_for
from bot.domain.errors import PermanentError, TransientError
from tests.adapters.aws.conftest import (
    FakeClock,
    RecordingApiServer,
    TlsIdentity,
    create_eks_cluster,
    give_cluster_ca,
)
from tests.adapters.aws.test_eks_token import signed_at
from tests.support.aws import MotoServer


def test_client_targets_the_cluster_endpoint_and_trusts_its_ca(
    fresh_moto: MotoServer, clock: FakeClock, loopback_tls: TlsIdentity
) -> None:
    cluster = create_eks_cluster(fresh_moto, "team-a")
    give_cluster_ca(fresh_moto, "team-a", loopback_tls.cert_pem)

    api = eks_api_client(
        cluster_name="team-a",
        region="eu-west-1",
        session=fresh_moto.session(),
        clock=clock,
        endpoint_url=fresh_moto.url,
    )

    cfg = api.configuration
    assert cfg.host == cluster["endpoint"].rstrip("/")  # moto adds a slash EKS does not
    assert cfg.host.endswith(".eu-west-1.eks.amazonaws.com")
    assert cfg.ca_cert_data == loopback_tls.cert_pem
    assert cfg.get_api_key_with_prefix("BearerToken").startswith("Bearer k8s-aws-v1.")


def test_a_ca_that_is_not_pem_is_refused_before_any_request(
    fresh_moto: MotoServer, clock: FakeClock
) -> None:
    create_eks_cluster(fresh_moto, "team-a")  # moto's CA: 1400 random characters

    with pytest.raises(PermanentError, match=r"'team-a'.*not a PEM certificate"):
        eks_api_client(
            cluster_name="team-a",
            region="eu-west-1",
            session=fresh_moto.session(),
            clock=clock,
            endpoint_url=fresh_moto.url,
        )


def test_unknown_cluster_is_a_permanent_error_saying_so(
    fresh_moto: MotoServer, clock: FakeClock
) -> None:
    with pytest.raises(PermanentError) as raised:
        eks_api_client(
            cluster_name="nope",
            region="eu-west-1",
            session=fresh_moto.session(),
            clock=clock,
            endpoint_url=fresh_moto.url,
        )

    assert str(raised.value) == "EKS cluster 'nope' not found in region eu-west-1."


def test_stopped_aws_endpoint_is_a_transient_error(
    moto_server: MotoServer, clock: FakeClock
) -> None:
    stopped = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    stopped.start()
    host, port = stopped.get_host_and_port()
    stopped.stop()  # werkzeug closes the listening socket: connections are refused

    with pytest.raises(TransientError, match=r"Could not reach AWS.*'team-a'"):
        eks_api_client(
            cluster_name="team-a",
            region="eu-west-1",
            session=moto_server.session(),
            clock=clock,
            endpoint_url=f"http://{host}:{port}",
        )


def test_moto_does_not_report_the_authentication_mode(fresh_moto: MotoServer) -> None:
    create_eks_cluster(fresh_moto, "team-a")

    assert authentication_mode(fresh_moto.client("eks"), "team-a") is None


def test_requests_carry_the_current_token_and_a_new_one_after_refresh(
    moto_server: MotoServer,
    signing_clock: FakeClock,
    loopback_tls: TlsIdentity,
    recording_api_server: RecordingApiServer,
) -> None:
    tokens = EksTokenSource(
        cluster_name="team-a",
        region="eu-west-1",
        session=moto_server.session(),
        clock=signing_clock,
    )
    cfg = configuration_for(recording_api_server.url + "/", loopback_tls.cert_pem, tokens)
    version = kubernetes.client.VersionApi(kubernetes.client.ApiClient(cfg))

    assert version.get_code().git_version == "v1.31.0-eks"
    signing_clock.advance(timedelta(minutes=9))
    version.get_code()
    signing_clock.advance(timedelta(minutes=1))
    version.get_code()

    first, cached, refreshed = recording_api_server.authorizations()
    assert first is not None
    assert first.startswith("Bearer k8s-aws-v1.")
    assert cached == first
    assert refreshed is not None
    assert refreshed != first
    assert signed_at(refreshed.removeprefix("Bearer ")) == signing_clock.now
    assert refreshed == f"Bearer {tokens.token()}"


# --- botocore's parsing of real EKS error responses, served from loopback --------------------


class CannedEks:
    def __init__(self) -> None:
        self.status = 200
        self.headers: dict[str, str] = {}
        self.body: dict = {}
        self.url = ""


@pytest.fixture
def canned_eks(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[CannedEks]:
    """Answers every EKS request with one fixed response; botocore does not retry it."""
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    canned = CannedEks()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(canned.body).encode()
            self.send_response(canned.status)
            for name, value in {"Content-Type": "application/json", **canned.headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    canned.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield canned
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def eks_error(canned: CannedEks, status: int, code: str, message: str) -> None:
    canned.status = status
    canned.headers = {"x-amzn-ErrorType": f"{code}:http://internal.amazon.com/"}
    canned.body = {"message": message}


@pytest.mark.parametrize(
    ("status", "code", "error", "sentence"),
    [
        (403, "AccessDeniedException", PermanentError, "not allowed to look up EKS cluster"),
        (403, "UnrecognizedClientException", PermanentError, "rejected the bot's credentials"),
        (400, "InvalidParameterException", PermanentError, "AWS refused to look up"),
        (429, "ThrottlingException", TransientError, "could not look up .* right now"),
        (500, "ServerException", TransientError, "could not look up .* right now"),
        (503, "ServiceUnavailableException", TransientError, "could not look up .* right now"),
    ],
)
def test_eks_errors_are_sorted_into_transient_and_permanent(
    canned_eks: CannedEks,
    moto_server: MotoServer,
    clock: FakeClock,
    status: int,
    code: str,
    error: type[Exception],
    sentence: str,
) -> None:
    eks_error(canned_eks, status, code, "the details")

    with pytest.raises(error, match=sentence) as raised:
        eks_api_client(
            cluster_name="team-a",
            region="eu-west-1",
            session=moto_server.session(),
            clock=clock,
            endpoint_url=canned_eks.url,
        )

    assert "'team-a' in region eu-west-1" in str(raised.value)


def test_authentication_mode_is_read_from_access_config(
    canned_eks: CannedEks, moto_server: MotoServer
) -> None:
    canned_eks.body = {
        "cluster": {
            "name": "team-a",
            "accessConfig": {
                "authenticationMode": "API_AND_CONFIG_MAP",
                "bootstrapClusterCreatorAdminPermissions": False,
            },
        }
    }
    eks = moto_server.session().client("eks", endpoint_url=canned_eks.url)

    assert authentication_mode(eks, "team-a") == "API_AND_CONFIG_MAP"
