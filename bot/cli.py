"""`eks-access`: serve, migrate, check-config, plan, and operator one-shots."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import yaml

from bot.adapters.audit_export import FORMATS, WRITERS, BadSince, row_of, since_from
from bot.adapters.logs import configure_logging
from bot.adapters.storage.migrate import MigrationFailed
from bot.cli_checks import check_config
from bot.config import Settings, SettingsError
from bot.policy_file import PolicyError, load_policy

if TYPE_CHECKING:
    from bot.adapters.storage.repository import SqlGrantStore

log = logging.getLogger("eks-access")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="eks-access", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser(
        "serve", help="run the bot (HTTP on HOST:PORT, or Socket Mode with SLACK_APP_TOKEN)"
    )
    sub.add_parser("migrate", help="bring the database schema up to date")
    check = sub.add_parser("check-config", help="validate the policy file")
    check.add_argument(
        "--check-aws",
        action="store_true",
        help="also check that every identity's IAM principal exists, and report each EKS "
        "cluster's authentication mode and where the bot will map identities",
    )
    check.add_argument(
        "--check-clusters",
        action="store_true",
        help="also connect to every cluster as the bot and ask it whether the bot may make "
        "each request the policy needs (the RBAC of `eks-access permissions`)",
    )
    plan = sub.add_parser("plan", help="print what a grant would change; touches nothing")
    plan.add_argument("what", choices=["grant"])
    plan.add_argument("profile")
    plan.add_argument("duration")
    plan.add_argument("--user", required=True, help="Slack user id of the requester")
    plan.add_argument(
        "--email", help="the requester's Slack email (their session name on a cluster's sso_role)"
    )
    plan.add_argument("extra", nargs="*", help="ns=<namespace> cluster=<name>")
    sub.add_parser("permissions", help="print the bot's own least-privilege RBAC for this policy")
    sub.add_parser(
        "iam-policy",
        help="print the bot's least-privilege IAM policy for this policy's EKS clusters "
        "(and the policy of each assume_role role)",
    )
    sub.add_parser("sweep", help="run one sweep pass now (expiry, retries, timeouts)")
    audit = sub.add_parser(
        "audit",
        help="print the audit trail of a request, or export every grant of a period "
        "(--since) as JSON or CSV",
    )
    audit.add_argument("grant_id", nargs="?", help="the request whose trail to print")
    audit.add_argument(
        "--since", help="export every grant open since then: 7d, 12h, or a date (2026-11-01)"
    )
    audit.add_argument("--format", choices=FORMATS, help="of the export: json (the default) or csv")
    # `plan grant p 2h --user U1 ns=x`: options may come before the ns=/cluster= words.
    args, unknown = parser.parse_known_args(argv)
    if unknown and args.cmd == "plan" and all("=" in u and not u.startswith("-") for u in unknown):
        args.extra += unknown
    elif unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        settings = Settings.from_env()
    except SettingsError as e:
        print(f"eks-access: {e}", file=sys.stderr)
        return 2
    configure_logging(settings.log_format, secrets=settings.secrets())
    try:
        return COMMANDS[args.cmd](settings, args)
    except MigrationFailed as e:
        _complain(settings, str(e))
        return 1
    except PolicyError as e:
        heading = f"{settings.policy_path}: the policy has {len(e.problems)} problem(s)"
        if settings.log_format == "json":  # one line, as the rest of the log
            log.error("%s", heading, extra={"problems": e.problems})
            return 2
        print(f"{heading}:", file=sys.stderr)
        for problem in e.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 2


def _complain(settings: Settings, sentence: str) -> None:
    """A sentence for the operator, on stderr: in JSON mode a line of the log like the rest."""
    if settings.log_format == "json":
        log.error("%s", sentence)
    else:
        print(sentence, file=sys.stderr)


def _serve(settings: Settings, _args: argparse.Namespace) -> int:
    from bot.main import serve

    serve(settings)
    return 0


def _migrate(settings: Settings, _args: argparse.Namespace) -> int:
    from bot.adapters.storage import migrate

    migrate.upgrade(settings.database_url)
    if settings.log_format == "json":  # a release phase's output is then all JSON
        log.info("database schema is up to date")
    else:
        print("database schema is up to date")
    return 0


def _plan(settings: Settings, args: argparse.Namespace) -> int:
    from bot.domain.commands import parse_command
    from bot.domain.errors import Rejected
    from bot.services.plan_grant import plan_grant

    policy = load_policy(settings.policy_path)
    try:
        command = parse_command(" ".join(["grant", args.profile, args.duration, *args.extra]))
        plan = plan_grant(
            policy, user=args.user, command=command, now=datetime.now(UTC), email=args.email
        )
    except Rejected as e:
        _complain(settings, f"refused: {e}")
        return 1
    print(yaml.safe_dump(plan, sort_keys=False, default_flow_style=False), end="")
    return 0


def _permissions(settings: Settings, _args: argparse.Namespace) -> int:
    from bot.adapters.kubernetes.permissions import policy_permissions_manifest

    manifest = policy_permissions_manifest(load_policy(settings.policy_path))
    print(yaml.safe_dump_all(manifest, sort_keys=False), end="")
    return 0


def _iam_policy(settings: Settings, _args: argparse.Namespace) -> int:
    from bot.adapters.aws.iam_policy import assumed_role_iam_policy, bot_iam_policy, policy_json

    policy = load_policy(settings.policy_path)
    clusters = [
        (c.eks_region, None, c.eks_name, c.assume_role)
        for c in policy.clusters
        if c.eks_name and c.eks_region
    ]
    if not clusters:
        print("No cluster of the policy names `eks:`, so the bot makes no AWS calls for them.")
        return 0
    print("# The bot's own principal:")
    print(policy_json(bot_iam_policy(clusters)), end="")
    for role in sorted({c[3] for c in clusters if c[3]}):
        print(f"# The role {role} (assume_role):")
        print(policy_json(assumed_role_iam_policy(clusters, role)), end="")
    return 0


def _sweep(settings: Settings, _args: argparse.Namespace) -> int:
    from bot.main import sweep_once

    report = sweep_once(settings).__dict__
    print(json.dumps(report, indent=None if settings.log_format == "json" else 2))
    return 0


def _audit(settings: Settings, args: argparse.Namespace) -> int:
    """Reads only: no migration, no Slack, no cluster. The export goes to stdout, the log to
    stderr."""
    from bot.adapters.storage.engine import make_engine
    from bot.adapters.storage.repository import SqlGrantStore
    from bot.domain.errors import TransientError

    misuse = _audit_misuse(args)
    if misuse:
        _complain(settings, f"eks-access audit: {misuse}.")
        return 2
    try:
        since = None if args.since is None else since_from(args.since, datetime.now(UTC))
    except BadSince as e:
        _complain(settings, f"eks-access audit: {e}")
        return 2
    engine = make_engine(settings.database_url)
    try:
        store = SqlGrantStore(engine)
        if not store.has_schema():
            _complain(
                settings,
                "eks-access audit: the database at DATABASE_URL holds no eks-access tables "
                "(`eks-access migrate` creates them).",
            )
            return 1
        if since is None:
            return _print_trail(settings, store, args.grant_id)
        grants = store.grants_since(since)
        WRITERS[args.format or "json"]((row_of(g) for g in grants), sys.stdout)
        log.info("exported %d grant(s) open since %s", len(grants), since.isoformat())
        return 0
    except TransientError as e:
        _complain(settings, f"eks-access audit: {e}")
        return 1
    finally:
        engine.dispose()


def _audit_misuse(args: argparse.Namespace) -> str | None:
    if args.grant_id is None and args.since is None:
        return "give a request id, or --since for an export"
    if args.grant_id is not None and args.since is not None:
        return "give a request id or --since, not both"
    if args.grant_id is not None and args.format is not None:
        return "--format is for the --since export; the trail of one request is text"
    return None


def _print_trail(settings: Settings, store: SqlGrantStore, grant_id: str) -> int:
    from bot.domain.markup import PLAIN
    from bot.domain.refusals import NoSuchRequest

    trail = store.audit_trail(grant_id)
    if not trail:
        _complain(settings, f"eks-access audit: {NoSuchRequest(grant_id).describe(PLAIN)}")
        return 1
    for event in trail:
        print(f"{event.at.isoformat()}  {event.actor:<12} {event.action:<24} {event.detail}")
    return 0


COMMANDS = {
    "serve": _serve,
    "migrate": _migrate,
    "check-config": check_config,
    "plan": _plan,
    "permissions": _permissions,
    "iam-policy": _iam_policy,
    "sweep": _sweep,
    "audit": _audit,
}

if __name__ == "__main__":
    sys.exit(main())
