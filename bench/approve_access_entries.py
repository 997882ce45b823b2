"""Approve click -> the requester's own token may list pods, on an EKS cluster in API mode.

The identity step is an EKS access entry here, not aws-auth: the bot runs with a policy whose
cluster has both `kubeconfig:` (Kubernetes) and `eks: {name, region}` with
`mapping: access-entries`, and boto3 in the bot reaches the loopback EKS emulator
(`tests/support/eks_emulator.py`) through `AWS_ENDPOINT_URL_EKS`. The apiserver asks the
TokenReview webhook model of the EKS authenticator (`tests/support/authenticator/`) about
bearer tokens, and that model reads the access entries from the same emulator.

"Allowed" is proven the same way for the bot and the floor: signing in as the requester with a
freshly minted token for their IAM user ARN and listing pods in `default` until the answer is
200. Before the access entry exists the answer is 401 (API mode: no entry, no identity), with
the entry but no RoleBinding it is 403.

The actors (the bot, and the floor worker making the same calls directly) are processes of
their own, and so is the emulator: the bench process only triggers, polls and keeps the
webhook. Polling starts at each side's trigger (the click goes out from a second thread), so
both are probed on the same schedule, with the same probes running alongside their calls.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from kubernetes import client

from bench import policy as bench_policy
from bench.binding_watch import BindingWatch
from bench.bots import log_problems
from bench.cluster import read_aws_auth
from bench.policy import (
    ACCOUNT,
    APPROVER,
    PROFILE,
    floor_objects,
    floor_username,
    owned_username,
)
from bench.rss import vm_kib
from bench.slack import SignedSlack, request_id, wait_responses
from bench.stats import Row, floor_rows, percentile
from bot.adapters.kubernetes.connection import api_client_from_kubeconfig
from bot.adapters.slack.ids import Action
from bot.adapters.storage.engine import make_engine
from bot.adapters.storage.repository import SqlGrantStore
from bot.domain.rbac import ACCESS_ENTRY_OWNER_TAG, MANAGED_BY_VALUE
from tests.support.authenticator import EksCluster, token_for
from tests.support.bot import ROOT, BotProcess
from tests.support.eks_emulator import EksEmulator
from tests.support.kube import KubeEnv
from tests.support.slack_stub import SlackStub

REGION = "eu-west-1"
EKS_NAME = "dev"
NAMESPACE = "default"
#: Access keys tell the emulator's callers apart (every key maps to ACCOUNT).
BOT_KEY = "testing"
FLOOR_KEY = "AKIABENCHFLOOR000000"
SECRET = "testing"
POLL_S = 0.005
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")


def ae_user(i: int) -> tuple[str, str]:
    """The Slack user and IAM user ARN of the bot's i-th sample."""
    return f"U0AE{i:03d}", f"arn:aws:iam::{ACCOUNT}:user/ae-{i:03d}"


def floor_arn(i: int) -> str:
    return f"arn:aws:iam::{ACCOUNT}:user/ae-floor-{i:03d}"


def aws_environ(base: dict[str, str], **extra: str) -> dict[str, str]:
    """`base` without the machine's AWS settings (profiles, CA bundle, metadata service),
    plus fixed test credentials and `extra` (an endpoint override)."""
    env = {k: v for k, v in base.items() if not k.startswith("AWS_")}
    env.update(
        {
            "AWS_ACCESS_KEY_ID": BOT_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            **extra,
        }
    )
    return env


def policy(kubeconfig: str, *, users: int) -> dict[str, Any]:
    """The bench policy, its one cluster also an EKS cluster mapped through access entries."""
    result = bench_policy.document(kubeconfig, latency_users=0, storm_users=0)
    result["clusters"][0].update(
        {"eks": {"name": EKS_NAME, "region": REGION}, "mapping": "access-entries"}
    )
    result["identities"].update(ae_user(i) for i in range(users))
    return result


# -- the child processes: the EKS emulator, timed, and the floor's worker ---------------------


def _operation(method: str, raw_path: str, body: dict[str, Any]) -> tuple[str, str | None]:
    parts = [urllib.parse.unquote(p) for p in raw_path.partition("?")[0].strip("/").split("/")]
    if len(parts) == 2:
        return "DescribeCluster", None
    if len(parts) == 3 and parts[2] == "access-entries":
        return ("CreateAccessEntry" if method == "POST" else "ListAccessEntries"), body.get(
            "principalArn"
        )
    if len(parts) == 4:
        names = {"GET": "DescribeAccessEntry", "POST": "UpdateAccessEntry"}
        return names.get(method, "DeleteAccessEntry"), parts[3]
    return f"{method} {raw_path}", None


class _TimedEmulator(EksEmulator):
    """The emulator, also noting when each call came and went (wall clock, for the bench)."""

    def __init__(self) -> None:
        super().__init__(account_of=lambda _key: ACCOUNT)
        self.timings: list[dict[str, Any]] = []
        self._timings_lock = threading.Lock()

    def handle(self, method: str, raw_path: str, authorization: str, body: Any) -> Any:
        started = time.time()
        try:
            return super().handle(method, raw_path, authorization, body)
        finally:
            ended = time.time()
            key = _CREDENTIAL.search(authorization)
            operation, principal = _operation(method, raw_path, body)
            with self._timings_lock:
                self.timings.append(
                    {
                        "op": operation,
                        "principal": principal,
                        "key": key[1] if key else None,
                        "start": started,
                        "end": ended,
                    }
                )

    def take_timings(self) -> list[dict[str, Any]]:
        with self._timings_lock:
            taken, self.timings = self.timings, []
        return taken


def _serve_emulator() -> int:
    emulator = _TimedEmulator()
    emulator.add_cluster(EKS_NAME, region=REGION, account=ACCOUNT, mode="API")
    print(json.dumps({"url": emulator.url}), flush=True)
    try:
        for line in sys.stdin:  # a command per line; EOF ends the child
            if line.strip() == "timings":
                print(json.dumps(emulator.take_timings()), flush=True)
    finally:
        emulator.close()
    return 0


def _run_floor(spec: dict[str, Any]) -> int:
    """Per job line, the calls the bot makes, as the bot's own identity: DescribeAccessEntry
    (not found), CreateAccessEntry as the bot makes it, the profile Role (present), one
    RoleBinding; then the answer, ok or the error."""
    import boto3
    from botocore.exceptions import ClientError

    eks = boto3.session.Session(
        aws_access_key_id=FLOOR_KEY, aws_secret_access_key=SECRET, region_name=REGION
    ).client("eks", endpoint_url=spec["eks_url"])
    api = api_client_from_kubeconfig(spec["kubeconfig"])
    rbac = client.RbacAuthorizationV1Api(api)
    rbac_profile = bench_policy.profile(spec["kubeconfig"])
    for line in sys.stdin:
        job = json.loads(line)
        role, binding = floor_objects(
            rbac_profile,
            namespace=NAMESPACE,
            username=job["username"],
            binding=job["binding"],
            now=datetime.now(UTC),
        )
        try:
            try:
                eks.describe_access_entry(clusterName=EKS_NAME, principalArn=job["arn"])
                raise RuntimeError(f"an access entry for {job['arn']} exists already")
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                    raise
            eks.create_access_entry(
                clusterName=EKS_NAME,
                principalArn=job["arn"],
                username=job["username"],
                type="STANDARD",
                tags={ACCESS_ENTRY_OWNER_TAG: MANAGED_BY_VALUE},
            )
            # The profile Role, as the bot ensures it on every activation: one call (it
            # exists after the warm-up, so AlreadyExists), as in the aws-auth floor (row 2).
            # Created empty: the bot's RBAC may not create a Role holding rules at once.
            try:
                empty = {**role, "rules": []}
                rbac.create_namespaced_role(NAMESPACE, empty, _request_timeout=10)
            except client.ApiException as exc:
                if exc.status != 409:
                    raise
            rbac.create_namespaced_role_binding(NAMESPACE, binding, _request_timeout=10)
            reply: dict[str, Any] = {"ok": True}
        except Exception as exc:  # reported to the bench as a lost sample
            reply = {"ok": False, "error": repr(exc)}
        print(json.dumps(reply), flush=True)
    api.close()
    return 0


class _Child:
    """A child process of this module, spoken to in JSON lines."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.log_path = log
        with open(log, "ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bench.approve_access_entries", *argv],
                cwd=ROOT,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                bufsize=1,
            )
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True).start()

    def _read(self, stream: IO[str] | None) -> None:
        assert stream is not None
        for line in stream:
            self._lines.put(line)
        self._lines.put(None)

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def reply(self, timeout: float) -> Any:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no answer from {self.log_path.stem} in {timeout:.0f} s") from None
        if line is None:
            tail = self.log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{self.log_path.stem} exited:\n{tail}")
        return json.loads(line)

    def try_reply(self) -> Any:
        """The next answer if one has come, else None (without waiting)."""
        try:
            line = self._lines.get_nowait()
        except queue.Empty:
            return None
        if line is None:
            raise RuntimeError(f"{self.log_path.stem} exited")
        return json.loads(line)

    def close(self) -> None:
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


class _Answer:
    """The floor worker's answer to the job just sent: it comes once the calls are done."""

    def __init__(self, worker: _Child) -> None:
        self.worker = worker
        self.value: Any = None

    def broken(self) -> bool:
        """Whether the worker has answered that it failed (then no sign-in will succeed)."""
        if self.value is None:
            self.value = self.worker.try_reply()
        return self.value is not None and not self.value.get("ok")

    def wait(self, timeout: float) -> Any:
        return self.value if self.value is not None else self.worker.reply(timeout)


# -- the check: sign in as the requester -----------------------------------------------------


class SignIn:
    """Lists pods in `default` as an IAM principal, with a new token every time (the 1.20
    apiserver keeps a token's success for 10 s). One keep-alive connection for all probes:
    the token is the request's only credential, so a new TLS handshake would add nothing."""

    def __init__(self, env: KubeEnv) -> None:
        kubeconfig = env.envtest.bearer_token_kubeconfig("ae-probe", "unused")
        self.api = api_client_from_kubeconfig(str(kubeconfig))
        self.core = client.CoreV1Api(self.api)
        self.durations: list[float] = []

    def status(self, arn: str) -> int:
        auth = {
            "in": "header",
            "type": "api_key",
            "key": "authorization",
            "value": f"Bearer {token_for(arn)}",
        }
        t = time.perf_counter()
        try:
            self.core.list_namespaced_pod(
                NAMESPACE, limit=1, _request_auth=auth, _request_timeout=5
            )
            return 200
        except client.ApiException as exc:
            return int(exc.status)
        finally:
            self.durations.append(time.perf_counter() - t)

    def wait_allowed(
        self,
        arn: str,
        timeout: float,
        seen: Counter[int],
        broken: Callable[[], bool] = lambda: False,
    ) -> float | None:
        """perf_counter() when a sign-in first lists pods; None on timeout or once `broken`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not broken():
            status = self.status(arn)
            if status == 200:
                return time.perf_counter()
            seen[status] += 1
            time.sleep(POLL_S)
        return None

    def close(self) -> None:
        self.api.close()


# -- the measurement -------------------------------------------------------------------------


@dataclass
class AccessEntryApproveResult:
    bot: list[float] = field(default_factory=list)
    floor: list[float] = field(default_factory=list)
    #: Per measured sample and side, the same milestones (wall clock, one machine): the
    #: emulator's receipt of DescribeAccessEntry and answer to CreateAccessEntry, the
    #: RoleBinding's ADDED event on a watch, the first sign-in listing pods. The bot's are
    #: split further by its own records (`decided_at`, `activated_at`).
    parts: dict[str, dict[str, list[float]]] = field(
        default_factory=lambda: {"bot": {}, "floor": {}}
    )
    #: Sign-in answers before the first 200.
    refusals: dict[str, Counter[int]] = field(
        default_factory=lambda: {"bot": Counter(), "floor": Counter()}
    )
    probe_s: list[float] = field(default_factory=list)
    #: When the bot's Slack calls of a measured sample reached the stub, after the click.
    slack_at: dict[str, list[float]] = field(default_factory=dict)
    #: HTTP time of each measured approve click (the ack).
    click_s: list[float] = field(default_factory=list)
    #: The bot's EKS calls per grant (operation -> count), over the measured samples.
    bot_calls: Counter[str] = field(default_factory=Counter)
    entries_ok: int = 0
    entries_expected: int = 0
    aws_auth_untouched: bool = False
    bot_start_seconds: float = 0.0
    peak_rss_kib: int | None = None
    log_problems: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def _add(parts: dict[str, list[float]], name: str, value: float) -> None:
    parts.setdefault(name, []).append(value)


def _milestones(
    parts: dict[str, list[float]],
    timings: list[dict[str, Any]],
    *,
    key: str,
    arn: str,
    sent: float,
    bound: float | None,
    allowed: float,
) -> list[dict[str, Any]]:
    """Add one sample's parts (wall clock); returns the side's own EKS calls."""
    mine = [t for t in timings if t["key"] == key]
    describe = next(
        (t for t in mine if t["op"] == "DescribeAccessEntry" and t["principal"] == arn), None
    )
    create = next(
        (t for t in mine if t["op"] == "CreateAccessEntry" and t["principal"] == arn), None
    )
    if describe is None or create is None or bound is None:
        return mine
    _add(parts, "sent → DescribeAccessEntry received", describe["start"] - sent)
    _add(parts, "→ CreateAccessEntry answered", create["end"] - describe["start"])
    _add(parts, "→ RoleBinding seen (watch)", bound - create["end"])
    _add(parts, "→ sign-in lists pods", allowed - bound)
    return mine


def _wait_connected(bot: BotProcess, timeout: float) -> None:
    """Until the first reconcile has connected the cluster (and the bot froze its objects)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "mapping identities through access-entries" in bot.log():
            time.sleep(1.0)  # the rest of that reconcile pass, then gc.freeze()
            return
        time.sleep(0.1)
    raise RuntimeError("the bot did not connect to the EKS cluster:\n" + bot.log()[-2000:])


class _Sides:
    """The two sides of the measurement and what both use: the sign-in, the emulator."""

    def __init__(
        self,
        result: AccessEntryApproveResult,
        *,
        bot: BotProcess,
        floor: _Child,
        emulator: _Child,
        sign_in: SignIn,
        stub: SlackStub,
        database_url: str,
        bindings: BindingWatch,
    ) -> None:
        self.result = result
        self.bindings = bindings
        self.floor = floor
        self.emulator = emulator
        self.sign_in = sign_in
        self.stub = stub
        self.slack = SignedSlack(f"http://127.0.0.1:{bot.port}/slack/events", stub)
        self.engine = make_engine(database_url)
        self.store = SqlGrantStore(self.engine)
        self._clicks = cf.ThreadPoolExecutor(1, thread_name_prefix="ae-click")

    def _click(self, grant_id: str, key: str) -> tuple[int, float]:
        status = self.slack.click(APPROVER, str(Action.APPROVE_GRANT), grant_id, key)
        return status, time.perf_counter()

    def timings(self) -> list[dict[str, Any]]:
        """The emulator's calls since the last time asked."""
        self.emulator.send("timings")
        taken: list[dict[str, Any]] = self.emulator.reply(10)
        return taken

    def bot_sample(self, i: int) -> None:
        result, sign_in = self.result, self.sign_in
        user, arn = ae_user(i)
        key = f"ae-cmd-{i}"
        self.slack.command(user, f"grant {PROFILE} 1h ns={NAMESPACE} ae sample {i}", key)
        grant_id = request_id(wait_responses(self.stub, [key], 20).get(key, []))
        before = sign_in.status(arn)
        if grant_id is None or before != 401:
            result.failures.append(f"bot sample {i}: request {grant_id}, sign-in {before}")
            return
        time.sleep(0.2)
        sent_wall, sent_mono = time.time(), time.monotonic()
        t0 = time.perf_counter()
        # Sent from another thread, so that the sign-ins start at once, as for the floor:
        # both sides are then probed on the same schedule from their trigger on.
        click = self._clicks.submit(self._click, grant_id, f"ae-click-{i}")
        seen: Counter[int] = Counter()
        allowed = sign_in.wait_allowed(arn, 30, seen)
        allowed_wall = time.time()
        status, acked = click.result(30)
        clicked = acked - t0
        if status != 200 or allowed is None:
            result.failures.append(f"bot sample {i}: HTTP {status}, allowed={allowed}")
        elif i > 0:
            result.bot.append(allowed - t0)
            result.refusals["bot"].update(seen)
            result.click_s.append(clicked)
        wait_responses(self.stub, [f"ae-click-{i}"], 20)  # the bot is done with this click
        grant = self.store.get_grant(grant_id)
        timings = self.timings()
        if i == 0 or allowed is None:
            return
        parts = result.parts["bot"]
        mine = _milestones(
            parts,
            timings,
            key=BOT_KEY,
            arn=arn,
            sent=sent_wall,
            bound=self.bindings.seen(owned_username(arn)),
            allowed=allowed_wall,
        )
        result.bot_calls.update(t["op"] for t in mine)
        # What the bot sent Slack meanwhile (the stub notes arrival on the monotonic clock).
        updates = 0
        for call in list(self.stub.calls):
            if call.at < sent_mono:
                continue
            if call.method == "chat.update":
                updates += 1
                _add(result.slack_at, f"chat.update #{updates}", call.at - sent_mono)
            elif call.method == f"response/ae-click-{i}":
                _add(result.slack_at, "click answer", call.at - sent_mono)
        if grant and grant.decided_at and grant.activated_at:
            decided, activating = grant.decided_at.timestamp(), grant.activated_at.timestamp()
            _add(parts, "of which click sent → decision written", decided - sent_wall)
            _add(parts, "of which decision → activation started", activating - decided)

    def floor_sample(self, i: int) -> None:
        result, sign_in = self.result, self.sign_in
        arn = floor_arn(i)
        # The floor's entries carry the bot's tag but not a username the bot would write,
        # so its reconcile leaves them alone.
        job = {"arn": arn, "username": floor_username(arn), "binding": f"ae-floor-{i}"}
        before = sign_in.status(job["arn"])
        if before != 401:
            result.failures.append(f"floor sample {i}: sign-in {before} before the calls")
            return
        seen: Counter[int] = Counter()
        pending = _Answer(self.floor)
        sent_wall = time.time()
        t0 = time.perf_counter()
        self.floor.send(json.dumps(job))
        allowed = sign_in.wait_allowed(job["arn"], 30, seen, pending.broken)
        allowed_wall = time.time()
        answer = pending.wait(30)
        timings = self.timings()
        if not answer.get("ok") or allowed is None:
            result.failures.append(f"floor sample {i}: {answer.get('error')}, {allowed=}")
        elif i > 0:
            result.floor.append(allowed - t0)
            result.refusals["floor"].update(seen)
            _milestones(
                result.parts["floor"],
                timings,
                key=FLOOR_KEY,
                arn=job["arn"],
                sent=sent_wall,
                bound=self.bindings.seen(job["username"]),
                allowed=allowed_wall,
            )

    def close(self) -> None:
        self._clicks.shutdown()
        self.engine.dispose()
        self.bindings.close()
        if self.bindings.error:
            self.result.failures.append(self.bindings.error)


def _aws_auth(env: KubeEnv) -> dict[str, str]:
    return dict(read_aws_auth(env.admin_api_client()).data or {})


def measure(
    env: KubeEnv,
    stub: SlackStub,
    database_url: str,
    workdir: Path,
    bot_env: dict[str, str],
    *,
    grants_count: int,
    budget: float,
) -> AccessEntryApproveResult:
    """Bot and floor alternate, one grant at a time, a distinct IAM user each; the first of
    each is a warm-up (connections, boto3's operation models, the profile Role created)."""
    authenticator = env.authenticator
    assert authenticator is not None
    result = AccessEntryApproveResult()
    deadline = time.monotonic() + budget
    workdir.mkdir(parents=True, exist_ok=True)
    aws_auth_before = _aws_auth(env)
    child_env = aws_environ(dict(os.environ))
    emulator = _Child(["emulator"], child_env, workdir / "eks-emulator.log")
    bot: BotProcess | None = None
    floor: _Child | None = None
    sides: _Sides | None = None
    sign_in = SignIn(env)
    try:
        eks_url = emulator.reply(30)["url"]
        authenticator.use_eks(EksCluster(EKS_NAME, eks_url, region=REGION))
        bot = BotProcess(
            policy=policy(env.bot_kubeconfig, users=grants_count + 1),
            database_url=database_url,
            stub=stub,
            workdir=workdir,
            extra_env=bot_env,
        )
        bot.env = aws_environ(bot.env, AWS_ENDPOINT_URL_EKS=eks_url)
        spec = json.dumps({"eks_url": eks_url, "kubeconfig": env.bot_kubeconfig})
        floor = _Child(["floor", spec], child_env, workdir / "floor.log")
        started = time.monotonic()
        bot.start(timeout=60)
        _wait_connected(bot, 30)
        result.bot_start_seconds = time.monotonic() - started
        sides = _Sides(
            result,
            bot=bot,
            floor=floor,
            emulator=emulator,
            sign_in=sign_in,
            stub=stub,
            database_url=database_url,
            bindings=BindingWatch(
                env.admin_kubeconfig,
                NAMESPACE,
                budget + 60,
                label_selector=None,  # the floor's bindings too
                added_clock=time.time,
            ),
        )
        sides.timings()  # the first reconcile's calls, not a sample's
        for i in range(grants_count + 1):
            if time.monotonic() > deadline:
                result.failures.append(f"time budget spent after {i - 1} grants")
                break
            sides.bot_sample(i)
            time.sleep(0.2)
            sides.floor_sample(i)
            time.sleep(0.2)
        result.probe_s = sign_in.durations
        result.peak_rss_kib = vm_kib(bot.proc.pid) if bot.proc else None
        _check_entries(result, eks_url, grants_count + 1)
        result.aws_auth_untouched = _aws_auth(env) == aws_auth_before
    finally:
        if bot is not None:
            bot.kill(signal.SIGTERM)
            result.log_problems = log_problems(bot.log())
        if sides is not None:
            sides.close()
        if floor is not None:
            floor.close()
        authenticator.use_eks(None)
        emulator.close()
        sign_in.close()
    return result


def _check_entries(result: AccessEntryApproveResult, eks_url: str, count: int) -> None:
    """The bot's entries, read back from EKS: STANDARD, tagged, with the bot's username."""
    import boto3

    eks = boto3.session.Session(
        aws_access_key_id=FLOOR_KEY, aws_secret_access_key=SECRET, region_name=REGION
    ).client("eks", endpoint_url=eks_url)
    result.entries_expected = count
    for i in range(count):
        arn = ae_user(i)[1]
        try:
            entry = eks.describe_access_entry(clusterName=EKS_NAME, principalArn=arn)["accessEntry"]
        except eks.exceptions.ResourceNotFoundException:
            continue
        if (
            entry.get("type") == "STANDARD"
            and entry.get("tags", {}).get(ACCESS_ENTRY_OWNER_TAG) == MANAGED_BY_VALUE
            and entry.get("username") == owned_username(arn)
        ):
            result.entries_ok += 1
    eks.close()


def rows(result: AccessEntryApproveResult) -> list[Row]:
    return floor_rows(
        "2b",
        "Approve click → requester's token lists pods, EKS access entry (API mode)",
        result.bot,
        result.floor,
    )


def notes(result: AccessEntryApproveResult) -> list[str]:
    """Notes for the report: where each side's time goes, and the checks around it."""
    notes = []
    for side, parts in result.parts.items():
        if parts:
            notes.append(
                f"approve (access entries), {side} medians: "
                + ", ".join(f"{k} {percentile(v, 50) * 1000:.1f} ms" for k, v in parts.items())
            )
    if result.slack_at:
        notes.append(
            "approve (access entries), the bot's Slack calls, median arrival after the click: "
            + ", ".join(
                f"{k} {percentile(v, 50) * 1000:.1f} ms" for k, v in result.slack_at.items()
            )
        )
    samples = max(1, len(result.bot))
    notes.append(
        f"approve (access entries): click ack p50 {percentile(result.click_s, 50) * 1000:.1f} ms; "
        f"sign-in probe p50 {percentile(result.probe_s, 50) * 1000:.1f} ms "
        f"(a fresh token, TokenReview webhook, the model's DescribeCluster/ListAccessEntries"
        f"/DescribeAccessEntry); refusals before 200 bot {dict(result.refusals['bot'])}, floor "
        f"{dict(result.refusals['floor'])}; bot EKS calls per grant "
        + ", ".join(f"{op} {n / samples:.1f}" for op, n in sorted(result.bot_calls.items()))
        + f"; bot entries STANDARD, tagged, bot username: {result.entries_ok}/"
        f"{result.entries_expected}; aws-auth untouched: {result.aws_auth_untouched}; "
        f"bot healthy and connected {result.bot_start_seconds:.1f} s after start; its peak "
        f"RSS {(result.peak_rss_kib or 0) * 1024 / 1e6:.0f} MB"
    )
    if result.log_problems:
        notes.append("bot log (access entries): " + ", ".join(result.log_problems))
    if result.failures:
        notes.append("approve (access entries) samples lost: " + "; ".join(result.failures))
    return notes


def main(argv: list[str]) -> int:
    if argv[:1] == ["emulator"]:
        return _serve_emulator()
    if argv[:1] == ["floor"] and len(argv) == 2:
        return _run_floor(json.loads(argv[1]))
    print("usage: python -m bench.approve_access_entries emulator | floor SPEC", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
