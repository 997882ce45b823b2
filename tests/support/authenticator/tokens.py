"""Test tokens, and the caller identity STS would report for the principal a token names.

A test token stands in for the presigned STS URL of a real EKS token: `eks-test.` +
base64url(JSON) naming the caller. `caller_identity` is what the authenticator learns from STS
GetCallerIdentity, canonicalised as `pkg/token/token.go` and `pkg/arn/arn.go::Canonicalize` do;
the rest of the package keys off the `Caller` it returns, and an identity STS could never
return is refused here, with `InvalidToken`, before any mapping is consulted.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import secrets
from dataclasses import dataclass

TOKEN_PREFIX = "eks-test."
#: `pkg/endpoints/partitions.go::PARTITIONS`.
PARTITIONS = (
    "aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-eusc",
)  # fmt: skip
#: STS RoleSessionName: 2-64 of `[\w+=,.@-]`.
_SESSION_NAME = re.compile(r"[\w+=,.@-]{2,64}", re.ASCII)
_ACCOUNT_ID = re.compile(r"[0-9]{12}")


class InvalidToken(ValueError):
    """Not a test token, or one naming no identity STS could return (the authenticator's 403)."""


def token_for(arn: str, session: str | None = None, *, nonce: str | None = None) -> str:
    """A bearer token the webhook resolves to `arn` (an IAM role needs the STS `session` name).

    Every call makes a new token (a random `nonce` inside) because the 1.20 kube-apiserver keeps
    successful token answers for 10 s whatever the webhook cache TTL: a fresh token is the only
    way to see the effect of a revoke at once. Pass a fixed `nonce` to get a reusable token.
    """
    caller_identity(arn, session)  # fail here, in the test, rather than as a puzzling 401
    claims = {"arn": arn, "session": session, "nonce": nonce or secrets.token_hex(6)}
    raw = json.dumps(claims, separators=(",", ":")).encode()
    return TOKEN_PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_token(token: str) -> tuple[str, str | None]:
    """The `(arn, session)` a test token names; raises InvalidToken for anything else."""
    if not token.startswith(TOKEN_PREFIX):
        raise InvalidToken("not an eks-test token")
    body = token[len(TOKEN_PREFIX) :]
    try:
        claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise InvalidToken(f"undecodable eks-test token: {exc}") from None
    if not isinstance(claims, dict):
        raise InvalidToken("an eks-test token holds a JSON object")
    arn, session = claims.get("arn"), claims.get("session")
    if not isinstance(arn, str) or not (session is None or isinstance(session, str)):
        raise InvalidToken("an eks-test token needs a string arn and a string or null session")
    return arn, session


@dataclass(frozen=True)
class Caller:
    """What the authenticator knows after STS GetCallerIdentity (`token.Identity`)."""

    arn: str  # as STS reports it: roles as `sts::ACCT:assumed-role/NAME/SESSION`
    canonical_arn: str  # `arn.Canonicalize`: roles as `iam::ACCT:role/NAME`
    account_id: str
    session_name: str  # "" for IAM users, root and federated users
    kind: str  # "user" | "role" | "root" | "federated-user"
    partition: str

    @property
    def name(self) -> str:
        """The user or role name, without any path."""
        return self.canonical_arn.rsplit("/", 1)[-1]

    @property
    def principal_id(self) -> str:
        """A stand-in for the IAM unique id (`AIDA…`/`AROA…`), stable per principal."""
        prefix = {"user": "AIDA", "role": "AROA"}.get(self.kind, "AIDA")
        digest = hashlib.sha256(self.canonical_arn.lower().encode()).hexdigest()
        return prefix + digest[:17].upper()


def caller_identity(arn: str, session: str | None = None) -> Caller:
    """The identity STS would report for `arn` (+ session), canonicalised like the authenticator.

    An IAM role ARN means "assumed with this session": STS answers with the assumed-role ARN,
    which carries no path, so neither does the canonical ARN.
    """
    sections = arn.split(":", 5)
    if len(sections) != 6 or sections[0] != "arn":
        raise InvalidToken(f"arn {arn!r} is invalid")
    _, partition, service, _region, account, resource = sections
    if partition not in PARTITIONS:
        raise InvalidToken(f"arn {arn!r} does not have a recognized partition")
    if not _ACCOUNT_ID.fullmatch(account):
        raise InvalidToken(f"arn {arn!r} has no 12-digit account id")
    parts = resource.split("/")
    kind = f"{service}:{parts[0]}"
    if kind == "iam:role":
        if not parts[-1]:
            raise InvalidToken(f"arn {arn!r} names no role")
        if session is None:
            raise InvalidToken(f"{arn} is a role: give the STS session name it was assumed with")
        arn = f"arn:{partition}:sts::{account}:assumed-role/{parts[-1]}/{session}"
        parts, kind = arn.split(":", 5)[5].split("/"), "sts:assumed-role"
    if kind == "sts:assumed-role":
        if len(parts) < 3:
            raise InvalidToken(f"assumed-role arn {arn!r} does not have a role")
        session_name = parts[-1]
        if session is not None and session != session_name:
            raise InvalidToken(f"session {session!r} differs from the one in {arn}")
        if not _SESSION_NAME.fullmatch(session_name):
            raise InvalidToken(f"{session_name!r} is not a valid STS session name")
        role = "/".join(parts[1:-1])
        canonical = f"arn:{partition}:iam::{account}:role/{role}"
        return Caller(arn, canonical, account, session_name, "role", partition)
    if kind in ("iam:user", "iam:root", "sts:federated-user"):
        if session is not None:
            raise InvalidToken(f"{arn} is not a role and has no session")
        return Caller(arn, arn, account, "", kind.split(":", 1)[1], partition)
    raise InvalidToken(f"{arn!r} is not an identity STS returns")
