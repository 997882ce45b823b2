"""Short, unguessable ids users can type (`/eks-access revoke k3x9p2mw`)."""

from __future__ import annotations

import re
import secrets

_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i
ID_PATTERN = re.compile(r"^[a-z2-9]{8}$")


def new_id() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(8))


def looks_like_id(text: str) -> bool:
    return bool(ID_PATTERN.fullmatch(text))
