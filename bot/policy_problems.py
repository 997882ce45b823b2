"""How the policy-file parser collects problems: every one, with its path, at once."""

from __future__ import annotations

from typing import Any


class PolicyError(ValueError):
    """The policy file is wrong. The message lists every problem, one per line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, message: str) -> None:
        self.items.append(message)

    def unknown(self, mapping: dict[str, Any], where: str, known: set[str]) -> None:
        for key in sorted(set(map(str, mapping)) - known):
            self.add(f"{where}{key}: unknown setting (allowed: {', '.join(sorted(known))})")

    def raise_if_any(self) -> None:
        if self.items:
            raise PolicyError(self.items)


def flag(mapping: dict[str, Any], key: str, where: str, p: Problems) -> bool:
    value = mapping.get(key, False)
    if not isinstance(value, bool):
        p.add(f"{where}.{key}: must be true or false (without quotes), not {value!r}")
        return False
    return value
