"""The bot's entries in the `kube-system/aws-auth` ConfigMap `data` (REFERENCE.md §1).

A broken aws-auth locks nodes and people out of the cluster, so edits here are deliberately
narrow: only entries whose username is the one the bot derives from their ARN
(`eks-access:<account>:<kind>/<name>`, see `owns`) are added or removed,
every other entry and every other data key stays as it was, nothing is written when the
existing lists cannot be parsed, and each result is checked against the input before it is
returned (`verify_safe_edit`). Pure functions over the `data` dict; no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from bot.domain import aws_auth_text as text_edits
from bot.domain.errors import PermanentError
from bot.domain.principals import Principal

OWNED_USERNAME_PREFIX = "eks-access:"
MAX_DATA_BYTES = 1024 * 1024  # a ConfigMap's data may not exceed 1 MiB

_LISTS = ("mapRoles", "mapUsers")  # in the order the authenticator looks
_LIST_OF_KIND = {"role": "mapRoles", "user": "mapUsers"}
_ARN_FIELD = {"mapRoles": "rolearn", "mapUsers": "userarn"}


class AwsAuthUnreadable(PermanentError):
    """`mapRoles` or `mapUsers` cannot be parsed: a person has to fix aws-auth first."""


class AwsAuthUnsafeEdit(PermanentError):
    """An edit would lose or change a foreign entry, or exceed 1 MiB: nothing is written."""


@dataclass(frozen=True)
class Mapping:
    """One `mapRoles` (kind "role") or `mapUsers` (kind "user") entry."""

    kind: Literal["user", "role"]
    arn: str
    username: str
    groups: tuple[str, ...] = ()

    @property
    def owned(self) -> bool:
        return owns(self.arn, self.username)

    def entry(self) -> dict[str, Any]:
        """The entry as it appears in the parsed list."""
        arn_key = _ARN_FIELD[_LIST_OF_KIND[self.kind]]
        return {arn_key: self.arn, "username": self.username, "groups": list(self.groups)}


def parse_mappings(data: dict[str, str]) -> list[Mapping]:
    """Every `rolearn` entry of mapRoles, then every `userarn` entry of mapUsers, in order.

    `sso:` role entries, items that are not entries and `mapAccounts` are foreign content the
    bot only preserves, so they are not returned.
    """
    return [m for key in _LISTS for m in _mappings(key, _items(data, key))]


def find_mapping(data: dict[str, str], arn: str) -> Mapping | None:
    """The entry the authenticator uses for `arn`, owned or not; None when unmapped.

    The authenticator compares ARNs case-insensitively and looks in mapRoles before mapUsers.
    It loads each list into a map keyed by ARN, so of two entries for one ARN the last wins.
    """
    for key in _LISTS:
        matches = [m for m in _mappings(key, _items(data, key)) if _same_arn(m.arn, arn)]
        if matches:
            return matches[-1]
    return None


def owned_mappings(data: dict[str, str]) -> list[Mapping]:
    """The bot's own entries, mapRoles first."""
    return [m for m in parse_mappings(data) if m.owned]


def with_mapping(data: dict[str, str], mapping: Mapping) -> dict[str, str]:
    """A new `data` in which `mapping` is the bot's only entry for its ARN in its list.

    Idempotent. Raises ValueError when `mapping` is not owned or when a foreign entry maps the
    same ARN in either list: the bot's entry would shadow or be shadowed by it, and the
    callers leave such principals alone (find_mapping first).
    """
    if not mapping.owned:
        raise ValueError(f"the bot only writes usernames starting with {OWNED_USERNAME_PREFIX!r}")
    key = _LIST_OF_KIND[mapping.kind]
    lists = {k: _items(data, k) for k in _LISTS}
    is_own = _own_entry_test(key, mapping.arn)
    own = [item for item in lists[key] if is_own(item)]
    if text_edits.canonical(own) == text_edits.canonical([mapping.entry()]):
        return dict(data)
    for other_key, items in lists.items():
        foreign = [m for m in _mappings(other_key, items) if not m.owned]
        if any(_same_arn(m.arn, mapping.arn) for m in foreign):
            raise ValueError(
                f"{mapping.arn} already has an entry in {other_key} that the bot did not create"
            )

    with _refusing_failed_edits(key):
        value = data.get(key, "")
        if own:
            value = text_edits.removed(value, is_own)
        after = {**data, key: text_edits.appended(value, mapping.entry())}
    verify_safe_edit(data, after)
    return after


def without_mapping(data: dict[str, str], arn: str) -> dict[str, str]:
    """A new `data` without the bot's own entries for `arn`; foreign ones stay. Idempotent."""
    after = dict(data)
    for key in _LISTS:
        is_own = _own_entry_test(key, arn)
        if any(is_own(item) for item in _items(data, key)):
            with _refusing_failed_edits(key):
                after[key] = text_edits.removed(data[key], is_own)
    if after != data:
        verify_safe_edit(data, after)
    return after


def verify_safe_edit(before: dict[str, str], after: dict[str, str]) -> None:
    """Raise AwsAuthUnsafeEdit unless `after` keeps every foreign entry and key of `before`.

    Keys other than mapRoles/mapUsers must be byte-identical. In a list whose text changed,
    the foreign entries (full parsed content, unknown fields included) must be the same and in
    the same order, and the new text must parse. The whole data must stay within 1 MiB.
    """
    for key in sorted((before.keys() | after.keys()) - set(_LISTS)):
        if before.get(key) != after.get(key):
            raise AwsAuthUnsafeEdit(f"Refusing to write aws-auth: the edit would change {key}.")
    for key in _LISTS:
        if before.get(key) == after.get(key):
            continue
        try:
            old = [i for i in text_edits.load_list(before.get(key, "")) if not _is_owned(i)]
        except text_edits.ListUnreadable as error:
            raise AwsAuthUnsafeEdit(f"Refusing to edit aws-auth {key}: {error}.") from error
        try:
            new = [i for i in text_edits.load_list(after.get(key, "")) if not _is_owned(i)]
        except text_edits.ListUnreadable as error:
            raise AwsAuthUnsafeEdit(
                f"Refusing to write aws-auth: {key} would not parse, {error}."
            ) from error
        old_forms = [text_edits.canonical(i) for i in old]
        new_forms = [text_edits.canonical(i) for i in new]
        if old_forms != new_forms:
            lost = next(
                (i for i, f in zip(old, old_forms, strict=True) if f not in new_forms), None
            )
            detail = f" ({lost!r} would be lost or changed)" if lost is not None else ""
            raise AwsAuthUnsafeEdit(
                f"Refusing to write aws-auth: the entries in {key} the bot did not create "
                f"would not stay exactly as they are{detail}."
            )
    size = sum(_utf8_len(k) + _utf8_len(v) for k, v in after.items())
    if size > MAX_DATA_BYTES:
        raise AwsAuthUnsafeEdit(
            f"Refusing to write aws-auth: its data would be {size} bytes, more than the 1 MiB "
            "(1048576 bytes) a ConfigMap may hold."
        )


def _items(data: dict[str, str], key: str) -> list[Any]:
    try:
        return text_edits.load_list(data.get(key, ""))
    except text_edits.ListUnreadable as error:
        raise AwsAuthUnreadable(
            f"aws-auth {key} cannot be read: {error}. The bot will not change aws-auth until "
            "a person fixes it (the authenticator ignores the whole of a broken list)."
        ) from error


@contextmanager
def _refusing_failed_edits(key: str) -> Iterator[None]:
    try:
        yield
    except text_edits.EditFailed as error:
        raise AwsAuthUnsafeEdit(f"Refusing to write aws-auth: in {key}, {error}.") from error


def _mappings(key: str, items: list[Any]) -> list[Mapping]:
    kind: Literal["user", "role"] = "role" if key == "mapRoles" else "user"
    found = []
    for item in items:
        arn = _arn_of(key, item)
        if arn is None:
            continue
        username = item.get("username")
        groups = item.get("groups")
        found.append(
            Mapping(
                kind=kind,
                arn=arn,
                username=username if isinstance(username, str) else "",
                groups=tuple(str(g) for g in groups) if isinstance(groups, list) else (),
            )
        )
    return found


def _arn_of(key: str, item: Any) -> str | None:
    arn = item.get(_ARN_FIELD[key]) if isinstance(item, dict) else None
    return arn if isinstance(arn, str) else None


def owns(arn: str, username: str) -> bool:
    """The bot's entries carry exactly the username it derives from their ARN.

    A prefix alone is not enough: an administrator may well map the bot's own IAM role as
    `eks-access:bot`, and reconcile would then take that entry for an orphan and remove it.
    """
    if not username.startswith(OWNED_USERNAME_PREFIX):
        return False
    try:  # ARNs match case-insensitively in the authenticator, so here too
        return Principal.parse(arn.lower()).username == username.lower()
    except ValueError:
        return False


def _is_owned(item: Any) -> bool:
    if not isinstance(item, dict):
        return False
    username = item.get("username")
    arn = item.get("rolearn", item.get("userarn"))
    return isinstance(username, str) and isinstance(arn, str) and owns(arn, username)


def _own_entry_test(key: str, arn: str) -> Callable[[Any], bool]:
    """Whether an item of list `key` is one of the bot's own entries for `arn`."""

    def is_own(item: Any) -> bool:
        item_arn = _arn_of(key, item)
        return item_arn is not None and _is_owned(item) and _same_arn(item_arn, arn)

    return is_own


def _utf8_len(value: str) -> int:
    return len(value.encode("utf-8", errors="surrogatepass"))


def _same_arn(a: str, b: str) -> bool:
    return a.lower() == b.lower()
