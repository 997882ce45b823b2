"""Row 4: simultaneous approvals into one aws-auth, with a foreign writer alongside.

Before the storm, one grant is approved and waited for (a warm-up), so the number is the
storm's and not the bot's first connection to the cluster, as in a full run, where row 2
has connected it already. During the storm a watch records aws-auth's writes: the bot
coalesces concurrent edits, so 200 approvals should cost a few writes, not 200. A requester
counts as allowed once a SubjectAccessReview allows them and aws-auth maps them, whichever
comes last (`bench.aws_auth_watch`): the bot makes the RoleBinding beside the mapping.
"""

from __future__ import annotations

import concurrent.futures as cf
import math
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from kubernetes import client

from bench.aws_auth_watch import AwsAuthWatch
from bench.binding_watch import BindingWatch
from bench.cluster import (
    append_to_map_users,
    can_list_pods,
    foreign_entries,
    read_aws_auth,
    wait_allowed,
)
from bench.policy import (
    ACCOUNT,
    ACK_ARN,
    ACK_USER,
    APPROVER,
    PROFILE,
    owned_username,
    storm_user,
)
from bench.slack import SignedSlack, request_id, wait_responses
from bench.stats import Row, ms, percentile, verdict
from bot.adapters.kubernetes.connection import api_client_from_kubeconfig
from bot.adapters.slack.ids import Action
from bot.adapters.storage.engine import make_engine
from bot.adapters.storage.repository import SqlGrantStore
from bot.domain import aws_auth
from bot.domain import aws_auth_text as text_edits
from tests.support.kube import KubeEnv
from tests.support.slack_stub import SlackStub


@dataclass
class StormResult:
    requested: int = 0
    click_statuses: Counter[int] = field(default_factory=Counter)
    #: HTTP response time of each approve click: Slack's 3 s ack deadline applies to it.
    click_acks: list[float] = field(default_factory=list)
    all_allowed_s: float | None = None
    allowed: int = 0
    allowed_times: list[float] = field(default_factory=list)
    #: From the bot's records: clicks fired -> each decision written.
    decided_times: list[float] = field(default_factory=list)
    #: From the bot's records: clicks fired -> each activation started (`activated_at`).
    activated_times: list[float] = field(default_factory=list)
    applied: int = 0
    foreign_before: int = 0
    foreign_written: int = 0
    foreign_conflicts: int = 0
    foreign_lost: int = 0
    foreign_unexpected: int = 0
    #: Writes of aws-auth during the storm (a watch's MODIFIED events), the foreign ones too.
    aws_auth_writes: int | None = None
    warmup_s: float | None = None
    statuses_in_db: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


def measure(
    slack: SignedSlack,
    stub: SlackStub,
    env: KubeEnv,
    database_url: str,
    *,
    count: int,
    foreign_writes: int,
    budget: float,
) -> StormResult:
    """`count` pending requests, then all approve clicks at once (one thread each, released
    by a barrier) while a foreign writer edits aws-auth; each requester's SAR is checked as
    soon as their RoleBinding appears (and everyone's every 5 s as a fallback)."""
    result = StormResult()
    admin = api_client_from_kubeconfig(env.admin_kubeconfig)
    deadline = time.monotonic() + budget
    users = [storm_user(i) for i in range(count)]
    try:
        result.warmup_s = _warm_up(slack, stub, admin)
        if result.warmup_s is None:
            result.failures.append("the warm-up grant was never allowed")
        keys = [f"storm-cmd-{i}" for i in range(count)]
        with cf.ThreadPoolExecutor(16) as pool:
            list(
                pool.map(
                    lambda i: slack.command(
                        users[i][0], f"grant {PROFILE} 1h ns=default storm {i}", keys[i]
                    ),
                    range(count),
                )
            )
        answers = wait_responses(stub, keys, 120)
        ids = [request_id(answers.get(k, [])) for k in keys]
        result.requested = sum(1 for g in ids if g)
        if result.requested != count:
            result.failures.append(f"only {result.requested}/{count} requests were accepted")

        before = dict(read_aws_auth(admin).data or {})
        foreign_before = foreign_entries(before)
        result.foreign_before = len(foreign_before)
        added: list[str] = []
        bindings = BindingWatch(env.admin_kubeconfig, "default", budget + 30)
        writes = AwsAuthWatch(env.admin_kubeconfig, budget + 30)

        barrier = threading.Barrier(count + 2)
        statuses: list[int] = [0] * count
        acks: list[float] = []

        def click(i: int) -> None:
            barrier.wait(timeout=60)
            grant_id = ids[i]
            if grant_id is not None:
                t = time.perf_counter()
                statuses[i] = slack.click(
                    APPROVER, str(Action.APPROVE_GRANT), grant_id, f"storm-click-{i}"
                )
                acks.append(time.perf_counter() - t)

        def foreign_writer() -> None:
            barrier.wait(timeout=60)
            for k in range(foreign_writes):
                entry = (
                    f"- userarn: arn:aws:iam::{ACCOUNT}:user/foreign-{k:02d}\n"
                    f"  username: foreign-{k:02d}\n"
                    "  groups:\n"
                    "  - viewers\n"
                )
                result.foreign_conflicts += append_to_map_users(admin, entry)
                added.append(entry)
                time.sleep(0.1)

        threads = [threading.Thread(target=click, args=(i,), daemon=True) for i in range(count)]
        writer = threading.Thread(target=foreign_writer, daemon=True)
        for t in [*threads, writer]:
            t.start()
        barrier.wait(timeout=60)
        t0 = time.perf_counter()
        fired_wall = time.time()
        print(f"    {count} approve clicks fired", file=sys.stderr, flush=True)

        remaining = {owned_username(arn) for _, arn in users}
        first_allowed: dict[str, float] = {}
        next_sweep = time.monotonic() + 5
        while remaining and time.monotonic() < deadline:
            sweep = time.monotonic() >= next_sweep
            if sweep:
                next_sweep = time.monotonic() + 5
            for user in sorted(remaining):
                if (sweep or user in bindings.added) and can_list_pods(admin, user):
                    first_allowed[user] = time.perf_counter() - t0
                    remaining.discard(user)
            time.sleep(0.02)
        print(f"    {len(first_allowed)} allowed", file=sys.stderr, flush=True)
        for t in [*threads, writer]:
            t.join(timeout=max(1.0, deadline - time.monotonic()))
        bindings.close()
        if bindings.error:
            result.failures.append(bindings.error)
        time.sleep(1.0)  # the bot's trailing writes, then compare
        writes.close()
        result.aws_auth_writes = writes.count
        if writes.error:
            result.failures.append(writes.error)
        # Effective once aws-auth maps the user too (the binding is made beside the mapping).
        arns = {owned_username(arn): arn for _, arn in users}
        for user, allowed in list(first_allowed.items()):
            mapped = writes.mapped_at(arns[user], user, timeout=0)
            if mapped is None:
                del first_allowed[user]
                remaining.add(user)
            else:
                first_allowed[user] = max(allowed, mapped - t0)
        result.click_statuses = Counter(statuses)
        result.click_acks = sorted(acks)
        result.allowed = len(first_allowed)
        result.allowed_times = sorted(first_allowed.values())
        if not remaining:
            result.all_allowed_s = max(first_allowed.values())
        else:
            result.failures.append(f"{len(remaining)} never allowed within the budget")
        result.foreign_written = len(added)

        after = dict(read_aws_auth(admin).data or {})
        storm_arns = {arn.lower() for _, arn in users}
        result.applied = sum(
            1 for m in aws_auth.owned_mappings(after) if m.arn.lower() in storm_arns
        )
        expected = Counter(foreign_before)
        for entry in added:
            for item in text_edits.load_list(entry):
                expected[("mapUsers", text_edits.canonical(item))] += 1
        present = Counter(foreign_entries(after))
        result.foreign_lost = sum((expected - present).values())
        result.foreign_unexpected = sum((present - expected).values())

        engine = make_engine(database_url)
        try:
            store = SqlGrantStore(engine)
            stored = [g for g in (store.get_grant(gid) for gid in ids if gid) if g]
        finally:
            engine.dispose()
        result.statuses_in_db = dict(Counter(str(g.status) for g in stored))
        result.decided_times = sorted(
            g.decided_at.timestamp() - fired_wall for g in stored if g.decided_at is not None
        )
        result.activated_times = sorted(
            g.activated_at.timestamp() - fired_wall for g in stored if g.activated_at is not None
        )
    finally:
        admin.close()
    return result


def _warm_up(slack: SignedSlack, stub: SlackStub, admin: client.ApiClient) -> float | None:
    """One grant asked for, approved and waited for: seconds until allowed, or None."""
    slack.command(ACK_USER, f"grant {PROFILE} 1h ns=default storm warm-up", "storm-warm-cmd")
    grant_id = request_id(wait_responses(stub, ["storm-warm-cmd"], 30).get("storm-warm-cmd", []))
    if grant_id is None:
        return None
    t0 = time.perf_counter()
    slack.click(APPROVER, str(Action.APPROVE_GRANT), grant_id, "storm-warm-click")
    allowed = wait_allowed(admin, owned_username(ACK_ARN), timeout=30)
    wait_responses(stub, ["storm-warm-click"], 20)  # the bot is done with this click
    return None if allowed is None else allowed - t0


#: Every one of the simultaneous approvals effective within this many seconds.
TARGET_S = 2.0


def rows(st: StormResult, *, count: int, foreign_writes: int) -> list[Row]:
    """`count` approvals and `foreign_writes` foreign entries were asked for."""
    total = f"{st.all_allowed_s:.2f} s" if st.all_allowed_s is not None else "not reached"
    in_time = st.all_allowed_s is not None and st.all_allowed_s <= TARGET_S
    late = sum(1 for x in st.click_acks if x > 3.0)
    return [
        (
            "4",
            f"{st.requested} simultaneous approvals: time until all allowed (SAR, and aws-auth "
            "maps the user) "
            f"(p50 {ms(percentile(st.allowed_times, 50))})",
            total,
            "–",
            "–",
            f"≤ {TARGET_S:.0f} s",
            verdict(in_time and st.allowed == count),
        ),
        (
            "4",
            "… bot entries applied in aws-auth",
            f"{st.applied}/{count}",
            "–",
            "–",
            f"{count}/{count}",
            verdict(st.applied == count and st.allowed == count),
        ),
        (
            "4",
            "… aws-auth writes during the storm, the foreign writer's "
            f"{st.foreign_written} included",
            "–" if st.aws_auth_writes is None else str(st.aws_auth_writes),
            "–",
            "–",
            "– (reported)",
            "–",
        ),
        (
            "4",
            f"… foreign entries lost ({st.foreign_before} before, "
            f"+{st.foreign_written} written concurrently)",
            str(st.foreign_lost),
            "–",
            "–",
            "0",
            verdict(st.foreign_lost == 0 and st.foreign_written == foreign_writes),
        ),
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
        ),
    ]


def notes(st: StormResult) -> list[str]:
    late = sum(1 for x in st.click_acks if x > 3.0)
    out = [
        f"approval storm: click HTTP statuses {dict(st.click_statuses)}; click ack p50 "
        f"{ms(percentile(st.click_acks, 50))}, p99 {ms(percentile(st.click_acks, 99))}, "
        f"max {ms(max(st.click_acks, default=math.nan))}"
        + (f" ({late} over Slack's 3 s)" if late else "")
        + f"; decisions written {ms(percentile(st.decided_times, 0))} … "
        f"{ms(percentile(st.decided_times, 100))} after the clicks; grant states "
        f"{st.statuses_in_db}; the foreign writer met {st.foreign_conflicts} conflicts (409)"
        + f"; warm-up grant allowed after {ms(st.warmup_s or math.nan)}"
        + (f"; unexpected foreign entries {st.foreign_unexpected}" if st.foreign_unexpected else "")
    ]
    out.append(
        "approval storm, seconds after the clicks were fired, at 25/50/75/100 % of the "
        "approvals: "
        + "; ".join(
            f"{what} {' / '.join(f'{percentile(times, q):.2f}' for q in (25, 50, 75, 100))}"
            for what, times in (
                ("click acked", st.click_acks),
                ("decision written", st.decided_times),
                ("activation started (activated_at)", st.activated_times),
                ("allowed (SAR and mapping)", st.allowed_times),
            )
        )
    )
    if st.failures:
        out.append("approval storm: " + "; ".join(st.failures))
    return out
