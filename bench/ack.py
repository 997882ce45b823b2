"""Row 1: slash-command ack latency under 50 concurrent clients, the bot against bare Bolt.

The clients run in a load generator process of their own (`bench.loadgen`); the baseline is
a bare Bolt app (`bench.bare_bolt`) served the same way, started here (`BareBolt`).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.policy import ACK_USER
from bench.slack import responses
from bench.stats import Row, ms, percentile, ratio, verdict
from tests.support.bot import ROOT, SIGNING_SECRET, free_port
from tests.support.slack_stub import SlackStub

TARGET = 1.2


class BareBolt:
    """`python -m bench.bare_bolt` as a process, its Web API calls going to the stub."""

    def __init__(self, stub: SlackStub, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/slack/events"
        self.log_path = workdir / "bare-bolt.log"
        self.env = {
            **os.environ,
            "SLACK_BOT_TOKEN": "xoxb-test",
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": stub.url,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bench.bare_bolt"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"bare Bolt exited:\n{self.log_path.read_text()[-2000:]}")
            with contextlib.suppress(OSError):
                url = f"http://127.0.0.1:{self.port}/healthz"
                with urllib.request.urlopen(url, timeout=1) as r:
                    if r.status == 200:
                        return
            time.sleep(0.1)
        raise RuntimeError("bare Bolt did not come up")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@dataclass
class AckResult:
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"bot": [], "bare": []})
    statuses: dict[str, Counter[str]] = field(
        default_factory=lambda: {"bot": Counter(), "bare": Counter()}
    )
    errors: dict[str, int] = field(default_factory=lambda: {"bot": 0, "bare": 0})
    throughput: dict[str, list[float]] = field(default_factory=lambda: {"bot": [], "bare": []})
    #: The same clients paced (one request per client every `pace` seconds): below saturation.
    paced: dict[str, list[float]] = field(default_factory=lambda: {"bot": [], "bare": []})
    pace: float = 0.0
    undelivered_answers: int = 0


def _loadgen(spec: dict[str, Any], budget: float) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.loadgen", json.dumps(spec)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=budget + 90,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"load generator failed:\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def measure(
    targets: dict[str, str],
    stub: SlackStub,
    *,
    clients: int,
    per_client: int,
    rounds: int,
    text: str,
    pace: float,
    paced_requests: int,
    budget: float,
) -> AckResult:
    """Closed loop: `clients` threads, each sending `per_client` signed slash commands one
    after the other; rounds alternate between the targets so drift hits both alike. Then,
    for context, the same clients paced at one request per `pace` seconds each."""
    result = AckResult(pace=pace)
    response_base = stub.response_url("")
    per_run = budget / (2 * rounds + 4)

    def run(name: str, key: str, count: int, run_pace: float = 0.0) -> dict[str, Any]:
        spec = {
            "url": targets[name],
            "secret": SIGNING_SECRET,
            "clients": clients,
            "requests": count,
            "user": ACK_USER,
            "text": text,
            "response_base": response_base,
            "key": key,
            "budget": per_run,
            "pace": run_pace,
        }
        out = _loadgen(spec, per_run)
        if name == "bot":  # let the bot finish its answers before the other target runs
            expected = sum(int(v) for v in out["statuses"].values())
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                got = sum(1 for k in responses(stub) if k.startswith(key + "-"))
                if got >= expected:
                    break
                time.sleep(0.2)
            else:
                result.undelivered_answers += expected - got
        return out

    for name in ("bare", "bot"):  # warm-up: imports, connection pools, caches
        run(name, f"ack-warm-{name}", 2)
    for r in range(rounds):
        for name in ("bare", "bot") if r % 2 == 0 else ("bot", "bare"):
            out = run(name, f"ack-{r}-{name}", per_client)
            result.latencies[name].extend(out["latencies"])
            result.statuses[name].update(out["statuses"])
            result.errors[name] += out["error_count"]
            if out["wall"] > 0:
                result.throughput[name].append(len(out["latencies"]) / out["wall"])
    if pace > 0 and paced_requests > 0:
        for name in ("bare", "bot"):
            out = run(name, f"ack-paced-{name}", paced_requests, pace)
            result.paced[name].extend(out["latencies"])
            result.errors[name] += out["error_count"]
    return result


def rows(a: AckResult, *, command: str, clients: int) -> list[Row]:
    """p50 (reported) and p99 (graded) of the closed loop, then the paced p99 for context."""
    out: list[Row] = []
    n_bot, n_bare = len(a.latencies["bot"]), len(a.latencies["bare"])
    for q in (50, 99):
        bot_q, bare_q = percentile(a.latencies["bot"], q), percentile(a.latencies["bare"], q)
        r = ratio(bot_q, bare_q)
        graded = q == 99
        out.append(
            (
                "1",
                f"Slash-command ack (`/eks-access {command}`), p{q}, "
                f"{clients} clients in a closed loop, {n_bot} / {n_bare} requests",
                ms(bot_q),
                f"{ms(bare_q)} (bare Bolt)",
                f"{r:.2f}×",
                f"≤ {TARGET}× bare Bolt" if graded else "–",
                verdict(r <= TARGET) if graded and not math.isnan(r) else "–",
            )
        )
    if a.paced["bot"]:
        rate = clients / a.pace
        bot_q, bare_q = percentile(a.paced["bot"], 99), percentile(a.paced["bare"], 99)
        out.append(
            (
                "1",
                f"… for context: p99 with the same clients paced at {rate:.0f} req/s "
                f"(p50 {ms(percentile(a.paced['bot'], 50))} / "
                f"{ms(percentile(a.paced['bare'], 50))})",
                ms(bot_q),
                f"{ms(bare_q)} (bare Bolt)",
                f"{ratio(bot_q, bare_q):.2f}×",
                "– (not graded)",
                "–",
            )
        )
    return out


def notes(a: AckResult) -> list[str]:
    tp = {k: sum(v) / len(v) if v else math.nan for k, v in a.throughput.items()}
    return [
        f"ack, closed loop: throughput bot {tp['bot']:.0f} req/s, bare Bolt "
        f"{tp['bare']:.0f} req/s; HTTP statuses bot {dict(a.statuses['bot'])}, bare "
        f"{dict(a.statuses['bare'])}; connection errors bot {a.errors['bot']}, bare "
        f"{a.errors['bare']}"
        + (
            f"; {a.undelivered_answers} bot answers not delivered within 60 s"
            if a.undelivered_answers
            else ""
        )
    ]
