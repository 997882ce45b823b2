"""Row 2: approve click -> SubjectAccessReview allowed, the bot against the raw API floor."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from kubernetes import client

from bench.aws_auth_watch import AwsAuthWatch
from bench.cluster import can_list_pods, wait_allowed
from bench.policy import (
    ACCOUNT,
    APPROVER,
    PROFILE,
    floor_objects,
    floor_username,
    latency_user,
    owned_username,
    profile,
)
from bench.slack import SignedSlack, request_id, wait_responses
from bench.stats import Row, floor_rows, ms, percentile
from bot.adapters.kubernetes.connection import api_client_from_kubeconfig
from bot.adapters.slack.ids import Action
from bot.adapters.storage.engine import make_engine
from bot.adapters.storage.repository import SqlGrantStore
from bot.domain import aws_auth
from bot.domain import aws_auth_text as text_edits
from bot.domain.policy import Profile
from tests.support.kube import KubeEnv
from tests.support.slack_stub import SlackStub


class Floor:
    """The least the API needs for one grant, done directly with the kubernetes client as the
    bot's own identity: a read-modify-write of aws-auth with its resourceVersion (the bot's
    one-line entry appended as text), the profile Role if absent (created empty, then given
    its rules, as the bot's RBAC requires), and one RoleBinding. The binding carries the
    test-fixture label and no bot label, so the bot's reconcile never touches it and
    `aws_auth_reset` removes it."""

    def __init__(
        self, api: client.ApiClient, rbac_profile: Profile, namespace: str = "default"
    ) -> None:
        self.core = client.CoreV1Api(api)
        self.rbac = client.RbacAuthorizationV1Api(api)
        self.profile = rbac_profile
        self.namespace = namespace
        self.conflicts = 0

    @staticmethod
    def arn(i: int) -> str:
        return f"arn:aws:iam::{ACCOUNT}:user/floor-{i:03d}"

    @staticmethod
    def user(i: int) -> str:
        return floor_username(Floor.arn(i))

    def grant(self, i: int) -> None:
        arn = self.arn(i)
        entry = aws_auth.Mapping(kind="user", arn=arn, username=self.user(i)).entry()
        line = f"- {text_edits.flow_text(entry)}\n"
        role, binding = floor_objects(
            self.profile,
            namespace=self.namespace,
            username=self.user(i),
            binding=f"bench-floor-{i:03d}",
            now=datetime.now(UTC),
        )
        for _ in range(20):
            cm = self.core.read_namespaced_config_map("aws-auth", "kube-system")
            data = dict(cm.data or {})
            data["mapUsers"] = data.get("mapUsers", "") + line
            cm.data = data
            try:
                self.core.replace_namespaced_config_map("aws-auth", "kube-system", cm)
                break
            except client.ApiException as exc:
                if exc.status != 409:
                    raise
                self.conflicts += 1
        else:
            raise RuntimeError("floor: aws-auth kept changing")
        try:
            created = self.rbac.create_namespaced_role(self.namespace, {**role, "rules": []})
            version = {"resourceVersion": created.metadata.resource_version}
            role["metadata"] = {**role["metadata"], **version}
            self.rbac.replace_namespaced_role(role["metadata"]["name"], self.namespace, role)
        except client.ApiException as exc:
            if exc.status != 409:
                raise
        self.rbac.create_namespaced_role_binding(self.namespace, binding)


@dataclass
class ApproveResult:
    bot: list[float] = field(default_factory=list)
    floor: list[float] = field(default_factory=list)
    #: Per bot sample, from the bot's own records: click sent -> decision written
    #: (HTTP, Bolt, worker pickup, first read) and decision -> activation started.
    to_decided: list[float] = field(default_factory=list)
    decided_to_activating: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    floor_conflicts: int = 0
    #: Bot samples whose RoleBinding allowed before aws-auth mapped the requester.
    bound_before_mapped: int = 0


def effective(
    watch: AwsAuthWatch, allowed: float | None, arn: str, username: str
) -> tuple[float | None, bool]:
    """When access was effective: the later of the SAR allowing and aws-auth mapping `arn`
    to `username`; and whether the mapping came last."""
    if allowed is None:
        return None, False
    mapped = watch.mapped_at(arn, username)
    if mapped is None:
        return None, False
    return max(allowed, mapped), mapped > allowed


def measure(
    slack: SignedSlack,
    stub: SlackStub,
    env: KubeEnv,
    database_url: str,
    *,
    grants_count: int,
    budget: float,
) -> ApproveResult:
    """Bot and floor alternate, one grant at a time; the first of each is a warm-up."""
    result = ApproveResult()
    admin = api_client_from_kubeconfig(env.admin_kubeconfig)
    floor = Floor(env.bot_api_client(), profile(env.bot_kubeconfig))
    engine = make_engine(database_url)
    store = SqlGrantStore(engine)
    deadline = time.monotonic() + budget
    mappings = AwsAuthWatch(env.admin_kubeconfig, budget + 60)
    try:
        for i in range(grants_count + 1):
            if time.monotonic() > deadline:
                result.failures.append(f"time budget spent after {i - 1} grants")
                break
            user, arn = latency_user(i)
            k8s_user = owned_username(arn)
            key = f"lat-cmd-{i}"
            slack.command(user, f"grant {PROFILE} 1h ns=default latency sample {i}", key)
            grant_id = request_id(wait_responses(stub, [key], 20).get(key, []))
            if grant_id is None or can_list_pods(admin, k8s_user):
                result.failures.append(f"sample {i}: no pending request ({grant_id})")
                continue
            time.sleep(0.2)
            sent_wall = time.time()
            t0 = time.perf_counter()
            status = slack.click(APPROVER, str(Action.APPROVE_GRANT), grant_id, f"lat-click-{i}")
            allowed, mapped_last = effective(
                mappings, wait_allowed(admin, k8s_user, timeout=30), arn, k8s_user
            )
            result.bound_before_mapped += mapped_last and i > 0
            if status != 200 or allowed is None:
                result.failures.append(f"bot sample {i}: HTTP {status}, allowed={allowed}")
            elif i > 0:
                result.bot.append(allowed - t0)
            wait_responses(stub, [f"lat-click-{i}"], 20)  # the bot is done with this click
            grant = store.get_grant(grant_id)
            if i > 0 and grant and grant.decided_at and grant.activated_at:
                result.to_decided.append(grant.decided_at.timestamp() - sent_wall)
                result.decided_to_activating.append(
                    (grant.activated_at - grant.decided_at).total_seconds()
                )
            time.sleep(0.2)

            t0 = time.perf_counter()
            floor.grant(i)
            allowed, _ = effective(
                mappings,
                wait_allowed(admin, Floor.user(i), timeout=30),
                Floor.arn(i),
                Floor.user(i),
            )
            if allowed is None:
                result.failures.append(f"floor sample {i}: never allowed")
            elif i > 0:
                result.floor.append(allowed - t0)
            time.sleep(0.2)
    finally:
        mappings.close()
        admin.close()
        engine.dispose()
    if mappings.error:
        result.failures.append(mappings.error)
    result.floor_conflicts = floor.conflicts
    return result


def rows(ap: ApproveResult) -> list[Row]:
    return floor_rows(
        "2", "Approve click → SAR allowed and aws-auth maps the user", ap.bot, ap.floor
    )


def notes(ap: ApproveResult) -> list[str]:
    out = []
    if ap.to_decided:
        decided, activating = (
            percentile(ap.to_decided, 50),
            percentile(ap.decided_to_activating, 50),
        )
        out.append(
            "approve, bot medians from its own records: click sent → decision written "
            f"{ms(decided)}, decision → activation started {ms(activating)}, the rest "
            "(aws-auth and the RoleBinding side by side, the SAR and the mapping seen) "
            f"{ms(percentile(ap.bot, 50) - decided - activating)}; in "
            f"{ap.bound_before_mapped} of {len(ap.bot)} samples the SAR allowed before "
            "aws-auth mapped the user, and the mapping's arrival counts"
        )
    if ap.failures:
        out.append("approve samples lost: " + "; ".join(ap.failures))
    return out
