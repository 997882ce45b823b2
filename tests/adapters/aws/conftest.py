from __future__ import annotations

import base64
import ipaddress
import json
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.aws import MotoServer


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 3, 1, 9, 30, tzinfo=UTC))


@pytest.fixture
def signing_clock(clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The fake clock, also read by botocore's signer: X-Amz-Date follows it.

    Without this two tokens signed within the same real second are identical, so a refresh
    could not be told from a cached token.
    """
    import botocore.auth

    def botocore_now(remove_tzinfo: bool = True) -> datetime:
        return clock().replace(tzinfo=None) if remove_tzinfo else clock()

    monkeypatch.setattr(botocore.auth, "get_current_datetime", botocore_now)
    return clock


@dataclass(frozen=True)
class TlsIdentity:
    """A self-signed certificate for 127.0.0.1, trusted as its own CA."""

    cert_pem: str
    cert_file: Path
    key_file: Path


@pytest.fixture(scope="session")
def loopback_tls(tmp_path_factory: pytest.TempPathFactory) -> TlsIdentity:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")])
    now = datetime.now(UTC)  # TLS checks validity against the real clock
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    directory = tmp_path_factory.mktemp("tls")
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    (directory / "cert.pem").write_text(cert_pem)
    (directory / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return TlsIdentity(cert_pem, directory / "cert.pem", directory / "key.pem")


@dataclass
class RecordingApiServer:
    """An HTTPS stand-in for a kube-apiserver that answers /version/ and keeps request headers."""

    url: str
    requests: list[dict[str, str]] = field(default_factory=list)

    def authorizations(self) -> list[str | None]:
        return [r.get("authorization") for r in self.requests]


_VERSION = {
    "major": "1",
    "minor": "31",
    "gitVersion": "v1.31.0-eks",
    "gitCommit": "0",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.23",
    "compiler": "gc",
    "platform": "linux/amd64",
}


@pytest.fixture
def recording_api_server(loopback_tls: TlsIdentity) -> Iterator[RecordingApiServer]:
    recorded: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            recorded.append({k.lower(): v for k, v in self.headers.items()})
            body = json.dumps(_VERSION).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(loopback_tls.cert_file, loopback_tls.key_file)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield RecordingApiServer(
            url=f"https://127.0.0.1:{server.server_address[1]}", requests=recorded
        )
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def create_eks_cluster(aws: MotoServer, name: str) -> dict:
    """A cluster in moto, built from a real (moto) IAM role and VPC subnets as AWS requires."""
    role = aws.client("iam").create_role(
        RoleName=f"{name}-cluster",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "eks.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]
    ec2 = aws.client("ec2")
    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet_ids = [
        ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.0.{i}.0/24")["Subnet"]["SubnetId"]
        for i in range(2)
    ]
    cluster: dict = aws.client("eks").create_cluster(
        name=name, roleArn=role["Arn"], resourcesVpcConfig={"subnetIds": subnet_ids}
    )["cluster"]
    return cluster


def give_cluster_ca(aws: MotoServer, name: str, ca_pem: str) -> None:
    """moto invents 1400 random characters as the CA; put a real PEM where EKS would.

    The server runs in this process, so its backend is reachable directly.
    """
    from moto.eks.models import eks_backends

    cluster = eks_backends[aws.account_id][aws.region].clusters[name]
    cluster.certificate_authority = {"data": base64.b64encode(ca_pem.encode()).decode()}
