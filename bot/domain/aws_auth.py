"""The bot's entries in the `kube-system/aws-auth` ConfigMap `data` (kubernetes-sigs/aws-iam-authenticator, pkg/mapper/configmap).

A broken aws-auth locks nodes and people out of the cluster, so edits here are deliberately
narrow: only entries whose username is one the bot derives from their ARN (`owns`) are added
or removed, every other entry and every other data key stays as it was, and each result is
checked before it is returned (`verify_safe_edit`): the authenticator must map every
principal the bot does not own exactly as before. What the authenticator makes of aws-auth is
modelled in `aws_auth_reading`; the text edits that keep foreign bytes are `aws_auth_text`.

Lists the authenticator cannot read (it ignores each of them whole): the bot never writes into
one. Adding a role needs mapRoles and mapUsers readable (a mapRoles entry would shadow a
mapUsers entry for the same ARN hidden in a broken mapUsers); adding a user needs mapUsers only
(an entry in a broken mapRoles would win over the bot's, which harms nobody else). Removing
needs the list the bot writes that kind of principal into; a broken other list is skipped.

Each edit is planned (`planned_mapping`, `planned_removal`: the checks and refusals, an
`OwnEdit`) apart from being applied (`applied`: the text edits and `verify_safe_edit`), so
that edits of many principals planned on one `data` go out as one checked edit
(`aws_auth_batch`). Pure functions over the `data` dict; no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from bot.domain import aws_auth_text as text_edits
from bot.domain.aws_auth_entries import (
    LIST_KEYS,
    LIST_OF_KIND,
    ListKey,
    Mapping,
    match_key,
    owns,
)
from bot.domain.aws_auth_reading import (
    AwsAuthAmbiguous,
    Reading,
    Resolution,
    read,
    resolution,
    resolve,
)
from bot.domain.aws_auth_safety import MAX_DATA_BYTES, AwsAuthUnsafeEdit, verify_safe_edit
from bot.domain.errors import PermanentError
from bot.domain.principals import OWNED_USERNAME_PREFIX, Principal

__all__ = [
    "MAX_DATA_BYTES",
    "OWNED_USERNAME_PREFIX",
    "AwsAuthAmbiguous",
    "AwsAuthUnreadable",
    "AwsAuthUnsafeEdit",
    "Mapping",
    "OwnEdit",
    "Resolution",
    "applied",
    "find_mapping",
    "owned_mappings",
    "owns",
    "parse_mappings",
    "planned_mapping",
    "planned_removal",
    "resolution",
    "resolve",
    "verify_safe_edit",
    "with_mapping",
    "without_mapping",
]


class AwsAuthUnreadable(PermanentError):
    """A list the bot has to read or change cannot be read: a person has to fix aws-auth."""


def parse_mappings(data: dict[str, str]) -> list[Mapping]:
    """Every `rolearn` entry of mapRoles the authenticator keeps, then those of mapUsers.

    `sso:` entries, skipped items and `mapAccounts` are foreign content the bot only
    preserves, so they are not returned. Raises AwsAuthUnreadable when a list is lost: the
    bot cannot tell which of its entries are in it.
    """
    reading = read(data)
    for key in LIST_KEYS:
        _require_readable(reading, data, key, text=False)
    return [e.mapping for key in LIST_KEYS for e in reading.list(key).entries if e.kept and e.arn]


def owned_mappings(data: dict[str, str]) -> list[Mapping]:
    """The bot's own entries, mapRoles first."""
    return [m for m in parse_mappings(data) if m.owned]


def find_mapping(data: dict[str, str], arn: str) -> Mapping | None:
    """The entry the authenticator uses for `arn`, owned or not; None when no entry maps it.

    Raises AwsAuthAmbiguous when it picks one of several at random. A role ARN is matched
    without its IAM path, as the authenticator sees the caller. The `mapAccounts` default
    is not an entry (None here); `resolve` and `resolution` include it.
    """
    found = resolution(data, arn)
    if found.ambiguous:
        raise AwsAuthAmbiguous(found)
    return None if found.source == "mapAccounts" else found.mapping


@dataclass(frozen=True)
class OwnEdit:
    """What one change does to aws-auth `data`: drop the bot's own entries at `drop` (item
    positions per list, in the `data` it was planned on), then append `append`, the bot's
    entry. Edits planned on the same `data` for different principals combine (`applied`)."""

    drop: dict[ListKey, frozenset[int]] = field(default_factory=dict)
    append: Mapping | None = None


def with_mapping(data: dict[str, str], mapping: Mapping) -> dict[str, str]:
    """A new `data` in which the authenticator maps `mapping.arn` by `mapping`, the bot's entry.

    Idempotent; replaces the bot's earlier entries for the ARN. Raises ValueError when
    `mapping` is not owned, or when an entry the bot did not write (in either list, in any
    spelling, or an `sso:` entry) may map the same principal: the bot's entry would shadow or
    be shadowed by it, and the callers leave such principals alone (find_mapping first).
    Raises AwsAuthAmbiguous when the authenticator picks its entry at random already.
    """
    return applied(data, [planned_mapping(data, mapping)])


def without_mapping(data: dict[str, str], arn: str) -> dict[str, str]:
    """A new `data` without the bot's own entries for `arn`; foreign ones stay. Idempotent.

    Raises AwsAuthUnreadable when the list the bot writes such a principal into cannot be
    read: the bot cannot tell whether its entry is still there (and would be back once a
    person repairs the list). A broken other list is skipped.
    """
    return applied(data, [planned_removal(data, arn)])


def planned_mapping(data: dict[str, str], mapping: Mapping) -> OwnEdit:
    """The edit `with_mapping` makes, with its refusals; nothing to do: an empty OwnEdit."""
    if not mapping.owned:
        raise ValueError(
            f"the bot only writes the usernames it derives from the ARN ({OWNED_USERNAME_PREFIX}…)"
        )
    key = LIST_OF_KIND[mapping.kind]
    reading = read(data)
    for needed in LIST_KEYS if key == "mapRoles" else (key,):
        _require_readable(reading, data, needed)
    subject = match_key(mapping.arn)
    found = reading.resolve(mapping.arn)
    if found.ambiguous and not all(m.owned for m in found.candidates):
        raise AwsAuthAmbiguous(found)
    foreign = next((e for e in reading.entries_naming(subject) if not e.owned), None)
    if foreign is not None:
        raise ValueError(
            f"{mapping.arn} already has an entry in {foreign.list_key} that the bot did "
            f"not create ({foreign.mapping.arn})"
        )
    own = _own_entries(reading, subject)
    if own.keys() <= {key}:
        items = text_edits.load_list(data.get(key, ""))
        current = [items[n] for n in sorted(own.get(key, ()))]
        if text_edits.canonical(current) == text_edits.canonical([mapping.entry()]):
            return OwnEdit()
    return OwnEdit(drop=own, append=mapping)


def planned_removal(data: dict[str, str], arn: str) -> OwnEdit:
    """The edit `without_mapping` makes, with its refusals."""
    reading = read(data)
    try:
        kind = Principal.parse(arn.lower()).kind
    except ValueError:  # not an IAM user or role: no entry of the bot's can be for it
        kind = None
    if kind is not None:
        _require_readable(reading, data, LIST_OF_KIND[kind], text=False)
    return OwnEdit(drop=_own_entries(reading, match_key(arn)))


def applied(data: dict[str, str], edits: Sequence[OwnEdit]) -> dict[str, str]:
    """A new `data` with all `edits`, each planned on this `data` for a principal of its own,
    in one text edit per list and one `verify_safe_edit` of the whole result.

    Raises AwsAuthUnsafeEdit when that check fails, AwsAuthUnreadable when a list to change
    cannot be edited; nothing is changed then.
    """
    after = dict(data)
    for key in LIST_KEYS:
        drop = frozenset().union(*(e.drop.get(key, ()) for e in edits))
        entries = [
            e.append.entry() for e in edits if e.append and LIST_OF_KIND[e.append.kind] == key
        ]
        if drop:
            after[key] = _edited(after, key, text_edits.removed, drop)
        if entries:
            after[key] = _edited(after, key, text_edits.appended, *entries)
    if after != data:
        verify_safe_edit(data, after)
    return after


def _require_readable(
    reading: Reading, data: dict[str, str], key: ListKey, *, text: bool = True
) -> None:
    """Raise AwsAuthUnreadable unless the authenticator (and, with `text`, the editor) reads
    list `key`."""
    problem = reading.list(key).problem
    if problem is None and text:
        try:
            text_edits.load_list(data.get(key, ""))
        except text_edits.ListUnreadable as error:
            problem = f"{error} (the bot edits only lists it can read back exactly)"
    if problem is not None:
        raise AwsAuthUnreadable(
            f"aws-auth {key} cannot be read: {problem}. The bot will not change aws-auth "
            "there until a person fixes it (the authenticator ignores the whole of a broken "
            "list)."
        )


def _own_entries(reading: Reading, subject: str) -> dict[ListKey, frozenset[int]]:
    """Per readable list, the positions of the bot's own entries for the caller `subject`."""
    found: dict[ListKey, set[int]] = {}
    for e in reading.entries_naming(subject):
        if e.owned:
            found.setdefault(e.list_key, set()).add(e.index)
    return {key: frozenset(positions) for key, positions in found.items()}


def _edited(data: dict[str, str], key: ListKey, edit: Callable[..., str], *args: Any) -> str:
    """`edit(value, *args)` of list `key`; AwsAuthUnreadable when the editor cannot read it."""
    value = data.get(key, "")
    try:
        text_edits.load_list(value)
    except text_edits.ListUnreadable as error:
        raise AwsAuthUnreadable(
            f"aws-auth {key} holds one of the bot's entries, but the bot cannot edit it: "
            f"{error}. A person has to fix or remove that entry."
        ) from error
    with _refusing_failed_edits(key):
        return edit(value, *args)


@contextmanager
def _refusing_failed_edits(key: str) -> Iterator[None]:
    try:
        yield
    except text_edits.EditFailed as error:
        raise AwsAuthUnsafeEdit(f"Refusing to write aws-auth: in {key}, {error}.") from error
