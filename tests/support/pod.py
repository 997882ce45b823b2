"""A Deployment's container run here the way the kubelet would run it, with no container runtime.

What the container is promised and what it may not do, as the pod spec says it: the root
filesystem read-only (`readOnlyRootFilesystem`), an emptyDir as a fresh writable tmpfs, each
configMap and secret volume as read-only files, its user and group (`runAsUser`/`runAsGroup`),
its environment. The image is this machine's own root, seen through an overlay, so the code
and the virtualenv are the ones under test (the image's /opt/eks-access/bin is this venv's bin).

It runs in a private mount namespace (`unshare --mount`, so root only): nothing it mounts is
seen outside it, and it all goes away with the process. The network is the host's: the
container listens on loopback like any process here.
"""

from __future__ import annotations

import os
import shlex
import shutil
import stat
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

#: The checkout under test (the virtualenv's editable install points into it).
_CHECKOUT = Path(__file__).resolve().parents[2]

DEFAULT_EMPTYDIR_SIZE = "64Mi"


def pod_problem() -> str | None:
    """Why a pod cannot be run here, or None."""
    if os.geteuid() != 0:
        return "running a pod needs root (mount namespaces, overlay, chroot)"
    for tool in ("unshare", "mount", "chroot"):
        if shutil.which(tool) is None:
            return f"running a pod needs {tool}"
    probe = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "true"], capture_output=True, text=True
    )
    if probe.returncode != 0:
        return f"no mount namespaces here: {probe.stderr.strip()}"
    return None


@dataclass
class Pod:
    """One container of `pod_spec` (the Deployment's `spec.template.spec`).

    objects: the data of the ConfigMaps and Secrets its volumes and env name, by object name.
    image_env: the image's ENV; env_overrides: what the test changes on top (ports, stubs).
    argv: the image's CMD; workdir: its WORKDIR (it exists in the image, owned by the user).
    home: the user's home in the image's /etc/passwd, which the runtime sets as HOME ("/" when
        the image does not know the user).
    """

    pod_spec: dict[str, Any]
    objects: Mapping[str, Mapping[str, str]]
    argv: list[str]
    workdir: str
    scratch: Path
    home: str = "/"
    image_env: Mapping[str, str] = field(default_factory=dict)
    env_overrides: Mapping[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def container(self) -> dict[str, Any]:
        (container,) = self.pod_spec["containers"]
        return dict(container)

    def env(self) -> dict[str, str]:
        """The container's environment: the image's, then the spec's, then the overrides."""
        env = {
            # The image's PATH puts its virtualenv first: here, the one running the tests.
            "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
            "HOME": self.home,
            **self.image_env,
        }
        for entry in self.container.get("env", []):
            if "value" in entry:
                env[entry["name"]] = str(entry["value"])
            else:
                ref = entry["valueFrom"]["secretKeyRef"]
                env[entry["name"]] = self.objects[ref["name"]][ref["key"]]
        # A git worktree's checkout is mapped in by these (a development aid): pass them on.
        for name in ("PYTHONPATH", "EKS_WT"):
            if os.environ.get(name):
                env[name] = os.environ[name]
        env.update(self.env_overrides)
        return env

    def start(self, log: BinaryIO) -> subprocess.Popen[bytes]:
        self.process = subprocess.Popen(
            [
                str(shutil.which("unshare")),
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-euc",
                self._script(),
            ],
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        return self.process

    def path_inside(self, path: str) -> Path:
        """Where `path` of the container's filesystem is seen from outside (while it runs)."""
        assert self.process is not None
        return Path(f"/proc/{self.process.pid}/root{path}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    # -- the mounts, as a shell script run inside the new mount namespace --------------------

    def _script(self) -> str:
        security = dict(self.pod_spec.get("securityContext", {}))
        security.update(self.container.get("securityContext", {}))
        user, group = security.get("runAsUser", 0), security.get("runAsGroup", 0)
        base = self.scratch / "pod"
        lines = [
            f"d={shlex.quote(str(base))}",
            'mkdir -p "$d" && mount -t tmpfs -o mode=0700 tmpfs "$d"',
            'mkdir "$d/upper" "$d/work" "$d/root"',
            # The image's layers: every file of this machine, and writes to a throwaway layer.
            'mount -t overlay overlay -o "lowerdir=/,upperdir=$d/upper,workdir=$d/work" "$d/root"',
            'r="$d/root"',
            f'mkdir -p "$r"{shlex.quote(self.workdir)}',
            f'chown {user}:{group} "$r"{shlex.quote(self.workdir)}',
        ]
        volumes = {v["name"]: v for v in self.pod_spec.get("volumes", [])}
        empty_dirs: list[str] = []
        for mount in sorted(self.container.get("volumeMounts", []), key=lambda m: m["mountPath"]):
            target = '"$r"' + shlex.quote(mount["mountPath"])
            volume = volumes[mount["name"]]
            lines.append(f"mkdir -p {target}")
            if "emptyDir" in volume:
                size = quantity_bytes(volume["emptyDir"].get("sizeLimit", DEFAULT_EMPTYDIR_SIZE))
                lines.append(f"mount -t tmpfs -o size={size},mode=1777 tmpfs {target}")
                empty_dirs.append(mount["mountPath"])
                continue
            source = self._stage_files(volume)
            lines.append(f"mount --bind {shlex.quote(str(source))} {target}")
            lines.append(f"mount -o remount,bind,ro {target}")
        # What the image would hold in its own layers — the virtualenv and the checkout it is
        # installed from (editable), and the development aid's paths — is put back read-only
        # where an emptyDir hides it (a checkout under /tmp, as CI's is).
        here = [*os.environ.get("PYTHONPATH", "").split(":"), sys.prefix, str(_CHECKOUT)]
        for path in dict.fromkeys(here):
            if path and any(path.startswith(d.rstrip("/") + "/") for d in empty_dirs):
                quoted = '"$r"' + shlex.quote(path)
                lines.append(f"mkdir -p {quoted} && mount --bind {shlex.quote(path)} {quoted}")
                lines.append(f"mount -o remount,bind,ro {quoted}")
        # The image's Python is everyone's to run (/usr/local in python:3.11-slim); this
        # machine's may sit under a private home: its folders open up in the throwaway layer.
        for folder in _closed_ancestors([sys.executable, sys.prefix, sys.base_prefix]):
            lines.append('chmod o+x "$r"' + shlex.quote(folder))
        for api in ("/proc", "/dev", "/sys"):
            lines.append(f'mount --rbind {api} "$r"{api}')
        if security.get("readOnlyRootFilesystem"):
            lines.append('mount -o remount,ro "$r"')
        command = " ".join(shlex.quote(a) for a in self.argv)
        lines.append(
            f'exec {shutil.which("chroot")} --userspec={user}:{group} "$r" '
            f"sh -c {shlex.quote(f'cd {shlex.quote(self.workdir)} && exec {command}')}"
        )
        return "\n".join(lines)

    def _stage_files(self, volume: dict[str, Any]) -> Path:
        """The files of a configMap or secret volume, in a folder to bind-mount read-only."""
        if "configMap" in volume:
            name, mode = volume["configMap"]["name"], 0o644
        elif "secret" in volume:
            name, mode = volume["secret"]["secretName"], 0o640
        else:
            raise ValueError(f"volume {volume['name']}: only emptyDir, configMap and secret")
        folder = self.scratch / "volumes" / volume["name"]
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o755)
        security = self.pod_spec.get("securityContext", {})
        for key, text in self.objects[name].items():
            path = folder / key
            path.write_text(text)
            path.chmod(mode)
            # The kubelet gives volume files to the pod's fsGroup.
            if "fsGroup" in security:
                os.chown(path, 0, int(security["fsGroup"]))
        return folder


def _closed_ancestors(paths: list[str]) -> list[str]:
    """The folders on the way to `paths` that others may not enter."""
    closed: set[str] = set()
    for path in paths:
        for folder in [Path(path).resolve(), *Path(path).resolve().parents]:
            if folder.is_dir() and not folder.stat().st_mode & stat.S_IXOTH:
                closed.add(str(folder))
    return sorted(closed)


def quantity_bytes(quantity: str) -> int:
    """A Kubernetes memory quantity (`64Mi`, `150M`, `1Gi`, `1000`) in bytes."""
    scales = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "K": 10**3, "M": 10**6, "G": 10**9}
    for suffix, scale in scales.items():
        if quantity.endswith(suffix) and quantity[: -len(suffix)].replace(".", "", 1).isdigit():
            return int(float(quantity[: -len(suffix)]) * scale)
    return int(quantity)
