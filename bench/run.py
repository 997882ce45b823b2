"""On-demand performance run: `.venv/bin/python -m bench.run [--write-doc]`.

Starts its own kube-apiserver + etcd (the test harness's envtest), a throw-away database, the
Slack Web API stub, the real bot (`eks-access serve`, HTTP mode) and a bare Bolt app, then
measures, side by side, one module each:

1. slash-command ack latency under 50 concurrent clients, bot vs. bare Bolt (`bench.ack`);
2. approve click -> SubjectAccessReview allowed, bot vs. the raw API floor (`bench.approve`);
2b. approve click -> the requester's token lists pods, on an EKS cluster in API mode (access
   entries through the EKS emulator), bot vs. the same calls made directly
   (`bench.approve_access_entries`);
3. revoke lag after expiry with 10,000 and with 50,000 active grants, a new bot process
   each (`bench.expiry`);
4. 200 simultaneous approvals into one aws-auth, with a foreign writer alongside
   (`bench.storm`);
5. the bot processes' peak RSS (`bench.rss`).

This module only orchestrates: the arguments, the time budget, which bot serves which
measurement, the table, and `--write-doc`, which also puts the table into docs/benchmarks.md.
Not part of the test suite. Every loop is bounded in count and time, and the whole run has a
time budget.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench import ack, approve, approve_access_entries, expiry, machine, rss, storm
from bench import policy as bench_policy
from bench.bots import BOT_ENV, log_problems
from bench.cluster import cluster, database, reset_aws_auth
from bench.slack import SignedSlack
from bench.stats import Row
from tests.support.bot import ROOT, BotProcess
from tests.support.envtest import assets_dir, missing_binaries
from tests.support.slack_stub import SlackStub

DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- bench:results:begin -->", "<!-- bench:results:end -->"
SCENARIOS = ("ack", "approve", "approve-ae", "storm", "expiry")


@dataclass
class Run:
    args: argparse.Namespace
    started: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    meta: dict[str, str] = field(default_factory=dict)
    ack: ack.AckResult | None = None
    approve: approve.ApproveResult | None = None
    approve_ae: approve_access_entries.AccessEntryApproveResult | None = None
    storm: storm.StormResult | None = None
    #: Scenario 3's runs, by their number of active grants.
    expiry: dict[int, expiry.ExpiryResult] = field(default_factory=dict)
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
    p.add_argument(
        "--active",
        default="10000,50000",
        help="active grants of each expiry run, comma-separated (memory is graded at 10,000, "
        "revoke lag at every count)",
    )
    p.add_argument("--expiring", type=int, default=300, help="of which expire in the window")
    p.add_argument("--team-roles", type=int, default=100, help="shared roles of the others")
    p.add_argument("--lead", type=float, default=25.0, help="seconds from seeding to 1st expiry")
    p.add_argument("--window", type=float, default=60.0, help="seconds the expiries spread over")
    p.add_argument("--budget", type=float, default=1800.0, help="whole run, seconds")
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
    try:
        args.active = sorted({int(x) for x in str(args.active).split(",") if x.strip()})
    except ValueError:
        p.error("--active: whole numbers, comma-separated, such as 10000,50000")
    if not args.only <= set(SCENARIOS):
        p.error(f"--only: choose from {', '.join(SCENARIOS)}")
    if args.quick:
        args.per_client, args.rounds, args.grants, args.storm = 4, 1, 3, 20
        args.ae_grants = 3
        args.foreign_writes, args.active, args.expiring, args.team_roles = 3, "500", 30, 10
        args.window, args.paced_requests = 15.0, 4
    return args


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
            policy = bench_policy.document(
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
                bare = ack.BareBolt(stub, workdir)
                try:
                    bot.start(timeout=60)
                    bare.start()
                    assert bot.proc is not None and bare.proc is not None
                    bot_url = f"http://127.0.0.1:{bot.port}/slack/events"
                    if "ack" in args.only:
                        print("1/4 slash-command ack latency ...", file=sys.stderr, flush=True)
                        run.ack = ack.measure(
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
                    run.rss_kib["bare"] = rss.vm_kib(bare.proc.pid)
                    bare.stop()
                    slack = SignedSlack(bot_url, stub)
                    if "approve" in args.only:
                        print("2/4 approve -> SAR allowed ...", file=sys.stderr, flush=True)
                        run.approve = approve.measure(
                            slack,
                            stub,
                            env,
                            url_a,
                            grants_count=args.grants,
                            budget=min(180.0, left(0.25)),
                        )
                    if "storm" in args.only:
                        print("3/4 simultaneous approvals ...", file=sys.stderr, flush=True)
                        run.storm = storm.measure(
                            slack,
                            stub,
                            env,
                            url_a,
                            count=args.storm,
                            foreign_writes=args.foreign_writes,
                            budget=min(300.0, left(0.4)),
                        )
                    run.rss_kib["bot"] = rss.vm_kib(bot.proc.pid)
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
                    run.approve_ae = approve_access_entries.measure(
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
            for n, total in enumerate(args.active):
                print(
                    f"4/4 revoke lag among {total:,} active grants ...", file=sys.stderr, flush=True
                )
                reset_aws_auth(env)  # nothing of an earlier bot may look like an orphan now
                with database(args.db, workdir, f"bot-b{n}") as url_b:
                    result = expiry.measure(
                        env,
                        stub,
                        policy,
                        url_b,
                        workdir / f"bot-b{n}",
                        BOT_ENV,
                        total=total,
                        expiring=args.expiring,
                        team_roles=args.team_roles,
                        lead=args.lead,
                        window=args.window,
                        budget=max(60.0, left(1.0 / (len(args.active) - n))),
                    )
                run.expiry[total] = result
                if result.log_problems:
                    run.notes.append(
                        f"bot log (scenario 3, {total:,} grants): " + ", ".join(result.log_problems)
                    )
    finally:
        stub.close()
        if args.keep:
            print(f"work folder kept: {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def render(run: Run) -> str:
    """The table (rows 1, 2, 2b, 3, 4, 5, each from its measurement's module), the machine,
    and the notes."""
    args = run.args
    rows: list[Row] = []
    notes = list(run.notes)
    if run.ack is not None:
        rows += ack.rows(run.ack, command=args.ack_command, clients=args.clients)
        notes += ack.notes(run.ack)
    if run.approve is not None:
        rows += approve.rows(run.approve)
        notes += approve.notes(run.approve)
    if run.approve_ae is not None:
        rows += approve_access_entries.rows(run.approve_ae)
        notes += approve_access_entries.notes(run.approve_ae)
    for result in run.expiry.values():
        rows += expiry.rows(result)
        notes += expiry.notes(result)
    if run.storm is not None:
        rows += storm.rows(run.storm, count=args.storm, foreign_writes=args.foreign_writes)
        notes += storm.notes(run.storm)
    rows += rss.rows(run.rss_kib, {n: r.peak_rss_kib for n, r in run.expiry.items()})
    header = ("#", "Measurement", "eks-access", "Baseline", "Ratio", "Target", "Result")
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
        *("| " + " | ".join(r) + " |" for r in rows),
    ]
    meta = [
        f"- date: {run.started:%Y-%m-%d %H:%M} UTC; run took {run.seconds / 60:.1f} min"
        + (" (`--quick`)" if args.quick else ""),
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
    run.meta = machine.describe(args.db)
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
