"""A real etcd + kube-apiserver on loopback, started from envtest-style assets (REFERENCE §9).

Nothing here knows about the bot: it starts the two processes with throwaway certificates,
writes kubeconfig files for an admin (client certificate in `system:masters`) and for static
token users, and stops everything again. `tests/support/kube.py` turns it into fixtures.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client

from tests.support.kube_objects import labels_of, name_of

ASSETS_ENV = "KUBEBUILDER_ASSETS"
DEFAULT_ASSETS = Path.home() / ".cache" / "eks-access" / "envtest"
BINARIES = ("kube-apiserver", "etcd")
#: How long the apiserver keeps token-webhook answers. 0 bypasses that cache, so a revoke in
#: aws-auth shows on the next request. (1.20 also keeps *successful* answers of every token
#: authenticator for a fixed 10 s, with no flag: only a fresh token sees a revoke at once.)
TOKEN_WEBHOOK_CACHE_TTL = "0s"


def assets_dir() -> Path:
    """Where `kube-apiserver` and `etcd` are expected (envtest's convention, then our cache)."""
    configured = os.environ.get(ASSETS_ENV)
    return Path(configured).expanduser() if configured else DEFAULT_ASSETS


def missing_binaries(folder: Path) -> list[str]:
    return [name for name in BINARIES if not os.access(folder / name, os.X_OK)]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass(frozen=True)
class TokenUser:
    """A line of the apiserver's `--token-auth-file`; fixed for the lifetime of the server."""

    name: str
    groups: tuple[str, ...] = ()
    token: str = ""

    def with_token(self) -> TokenUser:
        if self.token:
            return self
        return TokenUser(self.name, self.groups, secrets.token_hex(16))


class EnvtestError(RuntimeError):
    pass


def _subj(value: str) -> str:
    """`value` escaped for openssl's `-subj` (user names like `eks-access:1:role/x` have `/`)."""
    return "".join("\\" + c if c in "\\/+=" else c for c in value)


class _Pki:
    """openssl-made CA, serving certificate, client certificates and a service-account key."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.ca_crt = folder / "ca.crt"
        self.ca_key = folder / "ca.key"
        self._openssl(
            "req", "-x509", "-new", "-nodes", "-days", "2",
            *self._ec_key_args(self.ca_key), "-out", str(self.ca_crt),
            "-subj", "/CN=envtest-ca",
        )  # fmt: skip
        self.server_crt, self.server_key = self.sign(
            "kube-apiserver",
            ext="subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
        )
        self.sa_key = folder / "sa.key"
        self.sa_pub = folder / "sa.pub"
        self._openssl("genrsa", "-out", str(self.sa_key), "2048")
        self._openssl("rsa", "-in", str(self.sa_key), "-pubout", "-out", str(self.sa_pub))

    @staticmethod
    def _ec_key_args(key: Path) -> list[str]:
        return ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-keyout", str(key)]

    def _openssl(self, *args: str) -> None:
        proc = subprocess.run(["openssl", *args], cwd=self.folder, capture_output=True, text=True)
        if proc.returncode != 0:
            raise EnvtestError(f"openssl {args[0]} failed: {proc.stderr.strip()}")

    def sign(
        self,
        common_name: str,
        organisations: Iterable[str] = (),
        *,
        ext: str = "extendedKeyUsage=clientAuth\n",
    ) -> tuple[Path, Path]:
        """A key and certificate signed by the CA; `O=` entries become Kubernetes groups."""
        stem = secrets.token_hex(4) + "-" + "".join(c if c.isalnum() else "_" for c in common_name)
        key, csr, crt, extfile = (self.folder / f"{stem}.{s}" for s in ("key", "csr", "crt", "ext"))
        subject = "".join(f"/O={_subj(o)}" for o in organisations) + f"/CN={_subj(common_name)}"
        self._openssl("req", "-new", "-nodes", *self._ec_key_args(key), "-out", str(csr),
                      "-subj", subject)  # fmt: skip
        extfile.write_text(ext)
        self._openssl(
            "x509", "-req", "-in", str(csr), "-CA", str(self.ca_crt), "-CAkey", str(self.ca_key),
            "-CAcreateserial", "-days", "2", "-out", str(crt), "-extfile", str(extfile),
        )  # fmt: skip
        return crt, key


class Envtest:
    """etcd + kube-apiserver for one test session.

    `token_users` are written into the static token file, so they must be known before
    `start()`; `client_cert_kubeconfig()` can mint further identities at any time. With a
    `token_webhook_url`, bearer tokens not in that file go to this TokenReview webhook
    (`authentication.k8s.io/v1beta1`; plain http is fine), answers uncached.
    """

    def __init__(
        self,
        assets: Path | None = None,
        *,
        token_users: Sequence[TokenUser] = (),
        token_webhook_url: str | None = None,
        ready_timeout: float = 60.0,
        stop_timeout: float = 5.0,
    ) -> None:
        self.assets = assets or assets_dir()
        self.token_users = {u.name: u.with_token() for u in token_users}
        self.token_webhook_url = token_webhook_url
        self.ready_timeout = ready_timeout
        self.stop_timeout = stop_timeout
        self.url = ""
        self._tmp: Path | None = None
        self._pki: _Pki | None = None
        self._procs: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.admin_kubeconfig = Path()

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> Envtest:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        missing = missing_binaries(self.assets)
        if missing:
            raise EnvtestError(f"{', '.join(missing)} not found in {self.assets}")
        # etcd fsyncs on every write; a RAM-backed folder keeps the suite fast where it exists.
        shm = Path("/dev/shm")
        base = str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None
        self._tmp = Path(tempfile.mkdtemp(prefix="eks-access-envtest-", dir=base))
        try:
            self._pki = _Pki(self._tmp / "pki")
            self._start_etcd()
            self._start_apiserver()
            self.admin_kubeconfig = self._write_kubeconfig(
                "admin", {"client-certificate": str(self._admin_cert[0]),
                          "client-key": str(self._admin_cert[1])},
            )  # fmt: skip
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        # One at a time, apiserver first: an apiserver whose etcd is gone retries instead of
        # exiting. Nothing here needs a graceful shutdown, so a slow one is killed.
        for _, proc in reversed(self._procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        self._procs.clear()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    # -- identities --------------------------------------------------------------------------

    def token_kubeconfig(self, name: str) -> Path:
        """A kubeconfig for one of the static `token_users`."""
        user = self.token_users[name]
        return self._write_kubeconfig(name, {"token": user.token})

    def bearer_token_kubeconfig(self, name: str, token: str) -> Path:
        """A kubeconfig presenting any bearer `token` (for the token webhook to judge)."""
        return self._write_kubeconfig(name, {"token": token})

    def client_cert_kubeconfig(self, name: str, groups: Iterable[str] = ()) -> Path:
        """A kubeconfig for any user name and groups, authenticated by a fresh client cert."""
        crt, key = self._require_pki().sign(name, groups)
        return self._write_kubeconfig(
            name, {"client-certificate": str(crt), "client-key": str(key)}
        )

    # -- internals ---------------------------------------------------------------------------

    def _require_pki(self) -> _Pki:
        if self._pki is None or self._tmp is None:
            raise EnvtestError("envtest is not running")
        return self._pki

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        assert self._tmp is not None
        log = open(self._tmp / f"{name}.log", "wb")  # noqa: SIM115 - owned by the child
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=self._tmp)
        log.close()
        self._procs.append((name, proc))
        return proc

    def _log_tail(self, name: str, lines: int = 30) -> str:
        assert self._tmp is not None
        path = self._tmp / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def _start_etcd(self) -> None:
        assert self._tmp is not None
        client, peer = free_port(), free_port()
        self._etcd_url = f"http://127.0.0.1:{client}"
        peer_url = f"http://127.0.0.1:{peer}"
        self._spawn(
            "etcd",
            [
                str(self.assets / "etcd"),
                "--name", "envtest",
                "--data-dir", str(self._tmp / "etcd"),
                "--listen-client-urls", self._etcd_url,
                "--advertise-client-urls", self._etcd_url,
                "--listen-peer-urls", peer_url,
                "--initial-advertise-peer-urls", peer_url,
                "--initial-cluster", f"envtest={peer_url}",
                "--log-level", "warn",
            ],
        )  # fmt: skip

    def _start_apiserver(self) -> None:
        assert self._tmp is not None
        pki = self._require_pki()
        self._admin_cert = pki.sign("envtest-admin", ["system:masters"])
        token_file = self._tmp / "tokens.csv"
        token_file.write_text(
            "".join(
                f'{u.token},{u.name},{u.name},"{",".join(u.groups)}"\n'
                for u in self.token_users.values()
            )
        )
        port = free_port()
        self.url = f"https://127.0.0.1:{port}"
        audience = "https://kubernetes.default.svc"
        webhook_flags: list[str] = []
        if self.token_webhook_url:
            webhook_flags = [
                "--authentication-token-webhook-config-file", str(self._webhook_kubeconfig()),
                "--authentication-token-webhook-version", "v1beta1",
                "--authentication-token-webhook-cache-ttl", TOKEN_WEBHOOK_CACHE_TTL,
            ]  # fmt: skip
        self._spawn(
            "kube-apiserver",
            [
                str(self.assets / "kube-apiserver"),
                "--etcd-servers", self._etcd_url,
                "--bind-address", "127.0.0.1",
                "--advertise-address", "127.0.0.1",
                "--secure-port", str(port),
                "--insecure-port", "0",
                "--cert-dir", str(self._tmp / "certs"),
                "--tls-cert-file", str(pki.server_crt),
                "--tls-private-key-file", str(pki.server_key),
                "--client-ca-file", str(pki.ca_crt),
                "--authorization-mode", "RBAC",
                "--token-auth-file", str(token_file),
                "--service-account-key-file", str(pki.sa_pub),
                "--service-account-signing-key-file", str(pki.sa_key),
                "--service-account-issuer", audience,
                "--api-audiences", audience,
                "--service-cluster-ip-range", "10.0.0.0/24",
                "--disable-admission-plugins", "ServiceAccount",
                *webhook_flags,
            ],
        )  # fmt: skip

    def _webhook_kubeconfig(self) -> Path:
        """The webhook's address in kubeconfig form, as `--authentication-token-webhook-config-file`
        wants it: the cluster is the webhook, the user is the apiserver (no credentials)."""
        assert self._tmp is not None and self.token_webhook_url
        path = self._tmp / "token-webhook.yaml"
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "token-webhook", "cluster": {"server": self.token_webhook_url}}],
            "users": [{"name": "kube-apiserver", "user": {}}],
            "contexts": [
                {
                    "name": "webhook",
                    "context": {"cluster": "token-webhook", "user": "kube-apiserver"},
                }
            ],
            "current-context": "webhook",
        }
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path

    def _wait_ready(self) -> None:
        pki = self._require_pki()
        ctx = ssl.create_default_context(cafile=str(pki.ca_crt))
        ctx.load_cert_chain(str(self._admin_cert[0]), str(self._admin_cert[1]))
        deadline = time.monotonic() + self.ready_timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            for name, proc in self._procs:
                if proc.poll() is not None:
                    raise EnvtestError(
                        f"{name} exited with {proc.returncode}:\n{self._log_tail(name)}"
                    )
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", context=ctx, timeout=2) as r:
                    if r.status == 200:
                        return
                    last = f"HTTP {r.status}"
            except urllib.error.HTTPError as e:
                last = f"HTTP {e.code}"
            except (OSError, urllib.error.URLError) as e:
                last = str(e)
            time.sleep(0.2)
        raise EnvtestError(
            f"kube-apiserver not ready after {self.ready_timeout:.0f}s ({last}):\n"
            f"{self._log_tail('kube-apiserver')}"
        )

    def _write_kubeconfig(self, user: str, credentials: dict[str, str]) -> Path:
        pki = self._require_pki()
        assert self._tmp is not None
        stem = "".join(c if c.isalnum() else "_" for c in user)
        path = self._tmp / f"kubeconfig-{stem}-{secrets.token_hex(3)}.yaml"
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {"name": "envtest", "cluster": {
                    "server": self.url, "certificate-authority": str(pki.ca_crt)}}
            ],
            "users": [{"name": user, "user": credentials}],
            "contexts": [{"name": user, "context": {"cluster": "envtest", "user": user}}],
            "current-context": user,
        }  # fmt: skip
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path


# -- helpers on a running apiserver (as admin) --------------------------------------------------


def apply_manifest(api_client: client.ApiClient, docs: Iterable[dict[str, Any]]) -> None:
    """Create or replace RBAC objects given as plain manifests (like `kubectl apply`)."""
    rbac = client.RbacAuthorizationV1Api(api_client)
    for doc in docs:
        kind, meta = doc["kind"], doc["metadata"]
        name, namespace = meta["name"], meta.get("namespace")
        # Each call validates a dict into its model anyway (pydantic's validate_call): done
        # here, the model's type is checked too.
        calls: tuple[Callable[[], object], Callable[[], object]]  # create, replace
        if kind == "ClusterRole":
            cluster_role = client.V1ClusterRole.model_validate(doc)
            calls = (
                partial(rbac.create_cluster_role, cluster_role),
                partial(rbac.replace_cluster_role, name, cluster_role),
            )
        elif kind == "ClusterRoleBinding":
            cluster_binding = client.V1ClusterRoleBinding.model_validate(doc)
            calls = (
                partial(rbac.create_cluster_role_binding, cluster_binding),
                partial(rbac.replace_cluster_role_binding, name, cluster_binding),
            )
        elif kind == "Role":
            role = client.V1Role.model_validate(doc)
            calls = (
                partial(rbac.create_namespaced_role, namespace, role),
                partial(rbac.replace_namespaced_role, name, namespace, role),
            )
        elif kind == "RoleBinding":
            binding = client.V1RoleBinding.model_validate(doc)
            calls = (
                partial(rbac.create_namespaced_role_binding, namespace, binding),
                partial(rbac.replace_namespaced_role_binding, name, namespace, binding),
            )
        else:
            raise EnvtestError(f"apply_manifest does not handle kind {kind}")
        create, replace = calls
        try:
            create()
        except client.ApiException as exc:
            if exc.status != 409:
                raise
            replace()


def aggregate_cluster_roles(api_client: client.ApiClient) -> None:
    """Fill aggregated ClusterRoles (view, edit, admin) the way the controller-manager would.

    Without it they have no rules here, so binding them grants nothing and every `bind` check
    passes trivially - tests about them would prove nothing.
    """
    rbac = client.RbacAuthorizationV1Api(api_client)
    for _ in range(3):  # admin aggregates edit, which aggregates view
        changed = False
        roles = rbac.list_cluster_role().items or []
        for role in roles:
            if role.aggregation_rule is None:
                continue
            selectors = [
                s.match_labels or {} for s in role.aggregation_rule.cluster_role_selectors or []
            ]
            rules = [
                rule
                for other in roles
                if name_of(other) != name_of(role)
                and any(
                    all(labels_of(other).get(k) == v for k, v in sel.items()) for sel in selectors
                )
                for rule in other.rules or []
            ]
            if [r.to_dict() for r in role.rules or []] != [r.to_dict() for r in rules]:
                role.rules = rules
                rbac.replace_cluster_role(name_of(role), role)
                changed = True
        if not changed:
            return


def delete_labelled_rbac(api_client: client.ApiClient, namespace: str, label_selector: str) -> None:
    """Remove RoleBindings and Roles matching `label_selector` in `namespace`."""
    rbac = client.RbacAuthorizationV1Api(api_client)
    rbac.delete_collection_namespaced_role_binding(namespace, label_selector=label_selector)
    rbac.delete_collection_namespaced_role(namespace, label_selector=label_selector)
