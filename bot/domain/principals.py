"""IAM principals as aws-auth sees them (REFERENCE.md §1)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

_ARN = re.compile(
    r"^arn:(?P<partition>aws|aws-cn|aws-us-gov):iam::(?P<account>\d{12}):"
    r"(?P<kind>user|role)/(?P<path>(?:[\w+=,.@-]+/)*)(?P<name>[\w+=,.@-]{1,128})$",
    re.ASCII,  # IAM names are ASCII; \w and \d would otherwise accept any script's letters
)


@dataclass(frozen=True)
class Principal:
    """An IAM user or role that a Slack user acts as."""

    arn: str
    kind: Literal["user", "role"]
    account: str
    name: str
    path: str = ""

    @classmethod
    def parse(cls, arn: str) -> Principal:
        m = _ARN.match(arn.strip())
        if not m:
            raise ValueError(
                f"{arn!r} is not an IAM user or role ARN "
                "(expected arn:aws:iam::<12-digit account>:user/<name> or :role/<name>)"
            )
        kind: Literal["user", "role"] = "user" if m["kind"] == "user" else "role"
        return cls(arn=arn.strip(), kind=kind, account=m["account"], name=m["name"], path=m["path"])

    @property
    def mapping_arn(self) -> str:
        """The ARN to write into aws-auth.

        The authenticator canonicalises an assumed-role ARN to `role/NAME` without the path, so a
        `rolearn` with a path never matches; user ARNs are kept as configured.
        """
        if self.kind == "role" and self.path:
            partition = self.arn.split(":")[1]
            return f"arn:{partition}:iam::{self.account}:role/{self.name}"
        return self.arn

    @property
    def username(self) -> str:
        """The Kubernetes username the bot maps this principal to (fixed, no templates)."""
        return f"eks-access:{self.account}:{self.kind}/{self.name}"
