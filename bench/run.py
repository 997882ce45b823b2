"""On-demand performance run: `.venv/bin/python -m bench.run [--write-doc]`.

Starts its own kube-apiserver + etcd (the test harness's envtest), a throw-away database, the
Slack Web API stub, the real bot (`eks-access serve`, HTTP mode) and a bare Bolt app, then
measures, side by side:

1. slash-command ack latency under 50 concurrent clients, bot vs. bare Bolt;
2. approve click -> SubjectAccessReview allowed, bot vs. the raw API floor;
2b. approve click -> the requester's token lists pods, on an EKS cluster in API mode (access
   entries through the EKS emulator), bot vs. the same calls made directly;
3. revoke lag after expiry with 10,000 active grants (a second bot process);
4. 200 simultaneous approvals into one aws-auth (with a foreign writer alongside);
5. the bot processes' peak RSS.

Prints a Markdown table; `--write-doc` also puts it into docs/benchmarks.md. Not part of the
test suite. Every loop is bounded in count and time, and the whole run has a time budget.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.metadata
import math
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench import scenarios
from bench.approve_access_entries import (
    AccessEntryApproveResult,
    measure_approve_access_entries,
    summary,
)
from bench.cluster import cluster, postgres_database, postgres_version, reset_aws_auth, vm_kib
from bench.slack import SignedSlack
from bench.stats import ms, percentile, ratio, verdict
from tests.support.bot import ROOT, SIGNING_SECRET, BotProcess, free_port
from tests.support.envtest import assets_dir, missing_binaries
from tests.support.slack_stub import SlackStub

DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- bench:results:begin -->", "<!-- bench:results:end -->"

#: The bot's documented defaults, stated explicitly: tests.support.bot.BotProcess sets test
#: values (1 s sweep, 3 s reconcile, 2 s lease) that would flatter the expiry numbers.
BOT_ENV = {
    "EKS_ACCESS_SWEEP_INTERVAL": "5",
    "EKS_ACCESS_RECONCILE_INTERVAL": "60",
    "EKS_ACCESS_STEP_LEASE": "30",
}

ACK_TARGET = 1.2
APPROVE_TARGET = 1.5
APPROVE_AE_TARGET = 1.5
REVOKE_TARGET_S = 1.0
RSS_TARGET_MB = 150.0
SCENARIOS = ("ack", "approve", "approve-ae", "storm", "expiry")


@dataclass
class Run:
    args: argparse.Namespace
    started: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    meta: dict[str, str] = field(default_factory=dict)
    ack: scenarios.AckResult | None = None
    approve: scenarios.ApproveResult | None = None
    approve_ae: AccessEntryApproveResult | None = None
    storm: scenarios.StormResult | None = None
    expiry: scenarios.ExpiryResult | None = None
    rss_kib: dict[str, int | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    p.add_argument("--db", choices=["postgres", "sqlite"], default="postgres")
    p.add_argument("--clients", type=int, default=50, help="concurrent ack clients")
    p.add_argument("--per-client", type=int, default=20, help="requests per client per round")
    p.add_argument("--rounds", type=int, default=2, help="ack rounds per target (alternating)")
    p.add_argument("--ack-command", default="list", help="slash-command text for the ack test")
    p.add_argument("--pace", type=float, default=0.5, help="paced ack run: s between requests")
    p.add_argument("--paced-requests", type=int, default=10, help="paced ack run: per client")
    p.add_argument(
        "--grants", type=int, default=20, help="approve->allowed samples (each side, row 2)"
    )
    p.add_argument(
        "--ae-grants",
        type=int,
        default=60,
        help="approve->allowed samples through access entries (each side, row 2b); its sign-in "
        "probe is coarse (~10 ms), so it needs more samples for a stable p99",
    )
    p.add_argument("--storm", type=int, default=200, help="simultaneous approvals")
    p.add_argument("--foreign-writes", type=int, default=20, help="foreign aws-auth writes")
    p.add_argument("--active", type=int, default=10_000, help="active grants for the expiry run")
    p.add_argument("--expiring", type=int, default=300, help="of which expire in the window")
    p.add_argument("--team-roles", type=int, default=100, help="shared roles of the others")
    p.add_argument("--lead", type=float, default=25.0, help="seconds from seeding to 1st expiry")
    p.add_argument("--window", type=float, default=60.0, help="seconds the expiries spread over")
    p.add_argument("--budget", type=float, default=900.0, help="whole run, seconds")
    p.add_argument("--quick", action="store_true", help="small counts: a smoke run, ~1 min")
    p.add_argument(
        "--only",
        default=",".join(SCENARIOS),
        help=f"comma-separated subset of {','.join(SCENARIOS)} (RSS is always read)",
    )
    p.add_argument("--write-doc", action="store_true", help=f"write the table into {DOC.name}")
    p.add_argument("--keep", action="store_true", help="keep the work folder (bot logs)")
    args = p.parse_args(argv)
    args.only = {x.strip() for x in args.only.split(",") if x.strip()}
    if not args.only <= set(SCENARIOS):
        p.error(f"--only: choose from {', '.join(SCENARIOS)}")
    if args.quick:
        args.per_client, args.rounds, args.grants, args.storm = 4, 1, 3, 20
        args.ae_grants = 3
        args.foreign_writes, args.active, args.expiring, args.team_roles = 3, 500, 30, 10
        args.window, args.paced_requests = 15.0, 4
    return args


# -- processes ---------------------------------------------------------------------------------


class BareBolt:
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


@contextlib.contextmanager
def database(kind: str, folder: Path, name: str) -> Iterator[str]:
    if kind == "postgres":
        with postgres_database() as url:
            yield url
    else:
        folder.mkdir(parents=True, exist_ok=True)
        yield f"sqlite:///{folder / (name + '.db')}"


def log_problems(text: str) -> list[str]:
    return [f"{text.count(m)}× {m.strip()!r}" for m in scenarios.LOG_MARKERS if text.count(m)]


# -- the run -------------------------------------------------------------------------------------


def collect_meta(args: argparse.Namespace) -> dict[str, str]:
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
    db = "SQLite (file, WAL)"
    if args.db == "postgres":
        db = f"PostgreSQL {postgres_version()} (127.0.0.1, a throw-away database)"

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
        "database": db,
        "libraries": (
            f"slack-bolt {version('slack-bolt')}, waitress {version('waitress')}, "
            f"kubernetes {version('kubernetes')}, SQLAlchemy {version('SQLAlchemy')}"
        ),
    }


def execute(run: Run) -> None:
    args = run.args
    budget_end = time.monotonic() + args.budget

    def left(share: float) -> float:
        return max(10.0, (budget_end - time.monotonic()) * share)

    workdir = Path(tempfile.mkdtemp(prefix="eks-access-bench-"))
    stub = SlackStub()
    try:
        with cluster() as env:
            reset_aws_auth(env)
            policy = scenarios.policy(
                env.bot_kubeconfig, latency_users=args.grants + 1, storm_users=args.storm
            )
            with database(args.db, workdir, "bot-a") as url_a:
                (workdir / "bot-a").mkdir()
                bot = BotProcess(
                    policy=policy,
                    database_url=url_a,
                    stub=stub,
                    workdir=workdir / "bot-a",
                    extra_env=BOT_ENV,
                )
                bare = BareBolt(stub, workdir)
                try:
                    bot.start(timeout=60)
                    bare.start()
                    assert bot.proc is not None and bare.proc is not None
                    bot_url = f"http://127.0.0.1:{bot.port}/slack/events"
                    if "ack" in args.only:
                        print("1/4 slash-command ack latency ...", file=sys.stderr, flush=True)
                        run.ack = scenarios.measure_ack(
                            {"bot": bot_url, "bare": bare.url},
                            stub,
                            clients=args.clients,
                            per_client=args.per_client,
                            rounds=args.rounds,
                            text=args.ack_command,
                            pace=args.pace,
                            paced_requests=args.paced_requests,
                            budget=min(300.0, left(0.3)),
                        )
                    run.rss_kib["bare"] = vm_kib(bare.proc.pid)
                    bare.stop()
                    slack = SignedSlack(bot_url, stub)
                    if "approve" in args.only:
                        print("2/4 approve -> SAR allowed ...", file=sys.stderr, flush=True)
                        run.approve = scenarios.measure_approve(
                            slack,
                            stub,
                            env,
                            url_a,
                            grants_count=args.grants,
                            budget=min(180.0, left(0.25)),
                        )
                    if "storm" in args.only:
                        print("3/4 simultaneous approvals ...", file=sys.stderr, flush=True)
                        run.storm = scenarios.measure_storm(
                            slack,
                            stub,
                            env,
                            url_a,
                            count=args.storm,
                            foreign_writes=args.foreign_writes,
                            budget=min(300.0, left(0.4)),
                        )
                    run.rss_kib["bot"] = vm_kib(bot.proc.pid)
                finally:
                    bare.stop()
                    bot.kill(signal.SIGTERM)
                problems = log_problems(bot.log())
                if problems:
                    run.notes.append("bot log (scenarios 1, 2, 4): " + ", ".join(problems))

            if "approve-ae" in args.only:
                print("2b approve -> access entry allowed ...", file=sys.stderr, flush=True)
                reset_aws_auth(env)  # nothing of the first bot may look like an orphan now
                with database(args.db, workdir, "bot-ae") as url_ae:
                    run.approve_ae = measure_approve_access_entries(
                        env,
                        stub,
                        url_ae,
                        workdir / "bot-ae",
                        BOT_ENV,
                        grants_count=args.ae_grants,
                        budget=min(240.0, left(0.3)),
                    )

            if "expiry" not in args.only:
                return
            print("4/4 revoke lag with many active grants ...", file=sys.stderr, flush=True)
            reset_aws_auth(env)  # nothing of the first bot may look like an orphan now
            with database(args.db, workdir, "bot-b") as url_b:
                run.expiry = scenarios.measure_expiry(
                    env,
                    stub,
                    policy,
                    url_b,
                    workdir / "bot-b",
                    BOT_ENV,
                    total=args.active,
                    expiring=args.expiring,
                    team_roles=args.team_roles,
                    lead=args.lead,
                    window=args.window,
                    budget=max(60.0, left(1.0)),
                )
            run.rss_kib["bot-expiry"] = run.expiry.peak_rss_kib
            if run.expiry.log_problems:
                run.notes.append("bot log (scenario 3): " + ", ".join(run.expiry.log_problems))
    finally:
        stub.close()
        if args.keep:
            print(f"work folder kept: {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


# -- the report ----------------------------------------------------------------------------------


def mb(kib: int | None) -> float:
    return math.nan if kib is None else kib * 1024 / 1e6


def mb_text(kib: int | None) -> str:
    value = mb(kib)
    return "n/a" if math.isnan(value) else f"{value:.0f} MB"


def _floor_rows(
    row: str, what: str, bot: list[float], floor: list[float], target: float
) -> list[tuple[str, ...]]:
    """The p50 and p99 rows of a bot-against-its-floor measurement."""
    out = []
    for q in (50, 99):
        bot_q, floor_q = percentile(bot, q), percentile(floor, q)
        r = ratio(bot_q, floor_q)
        out.append(
            (
                row,
                f"{what}, p{q}, {len(bot)} / {len(floor)} grants",
                ms(bot_q),
                f"{ms(floor_q)} (API floor)",
                f"{r:.2f}×",
                f"≤ {target}× floor",
                verdict(r <= target) if not math.isnan(r) else "n/a",
            )
        )
    return out


def render(run: Run) -> str:
    rows: list[tuple[str, ...]] = []
    notes = list(run.notes)
    a, ap, st, ex = run.ack, run.approve, run.storm, run.expiry
    if a is not None:
        n_bot, n_bare = len(a.latencies["bot"]), len(a.latencies["bare"])
        for q in (50, 99):
            bot_q, bare_q = percentile(a.latencies["bot"], q), percentile(a.latencies["bare"], q)
            r = ratio(bot_q, bare_q)
            graded = q == 99
            rows.append(
                (
                    "1",
                    f"Slash-command ack (`/eks-access {run.args.ack_command}`), p{q}, "
                    f"{run.args.clients} clients in a closed loop, {n_bot} / {n_bare} requests",
                    ms(bot_q),
                    f"{ms(bare_q)} (bare Bolt)",
                    f"{r:.2f}×",
                    f"≤ {ACK_TARGET}× bare Bolt" if graded else "–",
                    verdict(r <= ACK_TARGET) if graded and not math.isnan(r) else "–",
                )
            )
        if a.paced["bot"]:
            rate = run.args.clients / a.pace
            bot_q, bare_q = percentile(a.paced["bot"], 99), percentile(a.paced["bare"], 99)
            rows.append(
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
        tp = {k: sum(v) / len(v) if v else math.nan for k, v in a.throughput.items()}
        notes.append(
            f"ack, closed loop: throughput bot {tp['bot']:.0f} req/s, bare Bolt "
            f"{tp['bare']:.0f} req/s; HTTP statuses bot {dict(a.statuses['bot'])}, bare "
            f"{dict(a.statuses['bare'])}; connection errors bot {a.errors['bot']}, bare "
            f"{a.errors['bare']}"
            + (
                f"; {a.undelivered_answers} bot answers not delivered within 60 s"
                if a.undelivered_answers
                else ""
            )
        )
    if ap is not None:
        rows += _floor_rows(
            "2", "Approve click → SubjectAccessReview allowed", ap.bot, ap.floor, APPROVE_TARGET
        )
        if ap.to_decided:
            notes.append(
                "approve, bot medians from its own records: click sent → decision written "
                f"{ms(percentile(ap.to_decided, 50))}, decision → activation started "
                f"{ms(percentile(ap.decided_to_activating, 50))}, the rest (aws-auth, "
                "database, Role, RoleBinding, SAR seen) "
                f"{ms(percentile(ap.bot, 50) - percentile(ap.to_decided, 50) - percentile(ap.decided_to_activating, 50))}"
            )
        if ap.failures:
            notes.append("approve samples lost: " + "; ".join(ap.failures))
    if run.approve_ae is not None:
        ae = run.approve_ae
        rows += _floor_rows(
            "2b",
            "Approve click → requester's token lists pods, EKS access entry (API mode)",
            ae.bot,
            ae.floor,
            APPROVE_AE_TARGET,
        )
        notes.extend(summary(ae))
    if ex is not None:
        for label, lags, missing in (
            ("RoleBinding gone (watch)", ex.binding_lags, ex.bindings_not_seen_deleted),
            ("grant ended in the database", ex.ended_lags, ex.not_ended),
        ):
            p50, p99 = percentile(lags, 50), percentile(lags, 99)
            ok = (not math.isnan(p99)) and p99 <= REVOKE_TARGET_S and missing == 0
            rows.append(
                (
                    "3",
                    f"Revoke lag after expiry, {label}, p50 / p99, {len(lags)} of "
                    f"{ex.expiring} expiring among {ex.total:,} active"
                    + (f" ({missing} not revoked in time)" if missing else ""),
                    f"{ms(p50)} / {ms(p99)}",
                    "–",
                    "–",
                    f"p99 ≤ {REVOKE_TARGET_S:.0f} s",
                    verdict(ok),
                )
            )
        if ex.binding_lags:
            notes.append(
                f"revoke lag max: RoleBinding {ms(max(ex.binding_lags))}, ended "
                f"{ms(max(ex.ended_lags) if ex.ended_lags else math.nan)}; seeding took "
                f"{ex.seed_seconds:.0f} s; the bot was healthy {ex.bot_start_seconds:.1f} s "
                "after start"
                + (
                    f"; {ex.expired_before_bot_ready} grants were due before the bot was up"
                    if ex.expired_before_bot_ready
                    else ""
                )
            )
        if ex.worst_due_at:
            notes.append(
                "slowest revocations (lag, due at seconds after the bot started): "
                + ", ".join(f"{ms(lag)} @ +{due:.0f} s" for lag, due in ex.worst_due_at)
                + f"; bot audit actions: {ex.audit_actions}"
            )
        if ex.reconcile_details:
            notes.append("reconcile during the expiry run: " + "; ".join(ex.reconcile_details))
        if ex.rss_timeline:
            marks, shown = [], -10.0
            for t, kib in ex.rss_timeline:
                if t - shown >= 5.0:
                    marks.append(f"+{t:.0f} s {mb(kib):.0f}")
                    shown = t
            notes.append(
                f"bot RSS (MB) by seconds since its start, {ex.total:,} active grants "
                "(reconcile runs at +5 s and every 60 s): " + ", ".join(marks)
            )
        if ex.failures:
            notes.append("expiry run: " + "; ".join(ex.failures))
    if st is not None:
        total = f"{st.all_allowed_s:.2f} s" if st.all_allowed_s is not None else "not reached"
        rows.append(
            (
                "4",
                f"{st.requested} simultaneous approvals: time until all SARs allowed "
                f"(p50 {ms(percentile(st.allowed_times, 50))})",
                total,
                "–",
                "–",
                "– (reported)",
                "–",
            )
        )
        rows.append(
            (
                "4",
                "… bot entries applied in aws-auth",
                f"{st.applied}/{run.args.storm}",
                "–",
                "–",
                f"{run.args.storm}/{run.args.storm}",
                verdict(st.applied == run.args.storm and st.allowed == run.args.storm),
            )
        )
        rows.append(
            (
                "4",
                f"… foreign entries lost ({st.foreign_before} before, "
                f"+{st.foreign_written} written concurrently)",
                str(st.foreign_lost),
                "–",
                "–",
                "0",
                verdict(st.foreign_lost == 0 and st.foreign_written == run.args.foreign_writes),
            )
        )
        late = sum(1 for x in st.click_acks if x > 3.0)
        rows.append(
            (
                "4",
                "… approve clicks answered (HTTP 200) within Slack's 3 s ack deadline "
                f"(p50 {ms(percentile(st.click_acks, 50))}, max "
                f"{ms(max(st.click_acks, default=math.nan))})",
                f"{len(st.click_acks) - late}/{len(st.click_acks)}",
                "–",
                "–",
                "– (reported; not in the brief)",
                "–",
            )
        )
        notes.append(
            f"approval storm: click HTTP statuses {dict(st.click_statuses)}; click ack p50 "
            f"{ms(percentile(st.click_acks, 50))}, p99 {ms(percentile(st.click_acks, 99))}, "
            f"max {ms(max(st.click_acks, default=math.nan))}"
            + (f" ({late} over Slack's 3 s)" if late else "")
            + f"; decisions written {ms(percentile(st.decided_times, 0))} … "
            f"{ms(percentile(st.decided_times, 100))} after the clicks; grant states "
            f"{st.statuses_in_db}; the foreign writer met {st.foreign_conflicts} conflicts (409)"
            + (
                f"; unexpected foreign entries {st.foreign_unexpected}"
                if st.foreign_unexpected
                else ""
            )
        )
        if st.failures:
            notes.append("approval storm: " + "; ".join(st.failures))
    if run.rss_kib:
        bot_a, bot_b = mb(run.rss_kib.get("bot")), mb(run.rss_kib.get("bot-expiry"))
        peak = max((x for x in (bot_a, bot_b) if not math.isnan(x)), default=math.nan)
        rows.append(
            (
                "5",
                "Peak RSS (VmHWM) of the bot: scenarios 1, 2, 4 / scenario 3",
                f"{mb_text(run.rss_kib.get('bot'))} / {mb_text(run.rss_kib.get('bot-expiry'))}",
                f"{mb_text(run.rss_kib.get('bare'))} (bare Bolt)",
                "–",
                f"≤ {RSS_TARGET_MB:.0f} MB",
                verdict(peak <= RSS_TARGET_MB) if not math.isnan(peak) else "n/a",
            )
        )
    header = ("#", "Measurement", "eks-access", "Baseline", "Ratio", "Target", "Result")
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
        *("| " + " | ".join(r) + " |" for r in rows),
    ]
    meta = [
        f"- date: {run.started:%Y-%m-%d %H:%M} UTC; run took {run.seconds / 60:.1f} min"
        + (" (`--quick`)" if run.args.quick else ""),
        *(f"- {k}: {v}" for k, v in run.meta.items()),
        f"- bot settings: sweep {BOT_ENV['EKS_ACCESS_SWEEP_INTERVAL']} s, reconcile "
        f"{BOT_ENV['EKS_ACCESS_RECONCILE_INTERVAL']} s, step lease "
        f"{BOT_ENV['EKS_ACCESS_STEP_LEASE']} s (the defaults); waitress 16 threads",
        "- MB = 10^6 bytes",
    ]
    return "\n".join([*lines, "", *meta, "", *(f"- {n}" for n in notes)]).rstrip() + "\n"


def write_doc(report: str) -> None:
    text = DOC.read_text() if DOC.exists() else f"# Benchmarks\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text or END not in text:
        text = text.rstrip() + f"\n\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    DOC.write_text(f"{head}{BEGIN}\n{report}{END}{tail}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    missing = missing_binaries(assets_dir())
    if missing:
        print(f"{', '.join(missing)} not found in {assets_dir()}", file=sys.stderr)
        return 2
    # SIGTERM (and the watchdog below) unwind through every `finally`, so the apiserver,
    # the bot processes and the throw-away databases are gone when the run ends.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    watchdog = threading.Timer(args.budget + 300, lambda: os.kill(os.getpid(), signal.SIGTERM))
    watchdog.daemon = True
    watchdog.start()
    run = Run(args)
    run.meta = collect_meta(args)
    began = time.monotonic()
    try:
        execute(run)
    finally:
        run.seconds = time.monotonic() - began
        report = render(run)
        print(report)
    watchdog.cancel()
    if args.write_doc:
        write_doc(report)
        print(f"written to {DOC.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
