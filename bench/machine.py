"""What the run ran on, for the lines under the table."""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path

from bench.cluster import postgres_version
from tests.support.envtest import assets_dir


def describe(db: str) -> dict[str, str]:
    """`db`: "postgres" or "sqlite", as `--db` chose."""

    def cmd(*argv: str) -> str:
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)
            return (out.stdout or out.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "unknown"

    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "unknown"
    with contextlib.suppress(OSError, ValueError, IndexError):
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kib / 1024 / 1024:.0f} GiB"
    assets = assets_dir()
    database = "SQLite (file, WAL)"
    if db == "postgres":
        database = f"PostgreSQL {postgres_version()} (127.0.0.1, a throw-away database)"

    def version(pkg: str) -> str:
        try:
            return importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            return "?"

    return {
        "machine": f"{os.cpu_count()} vCPU ({cpu}), {mem} RAM, Linux {platform.release()}",
        "python": platform.python_version(),
        "kube-apiserver": cmd(str(assets / "kube-apiserver"), "--version"),
        "etcd": cmd(str(assets / "etcd"), "--version"),
        "database": database,
        "libraries": (
            f"slack-bolt {version('slack-bolt')}, waitress {version('waitress')}, "
            f"kubernetes {version('kubernetes')}, SQLAlchemy {version('SQLAlchemy')}"
        ),
    }
