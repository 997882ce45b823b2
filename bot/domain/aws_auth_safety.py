"""The safety check of every aws-auth write: the edit may change only the bot's own entries.

`verify_safe_edit` compares the authenticator's answer for every principal the bot does not
own, before and after, and every foreign entry's content; `bot.domain.aws_auth` runs it on
each edit it makes."""

from __future__ import annotations

from typing import Any

from bot.domain import aws_auth_text as text_edits
from bot.domain.aws_auth_entries import LIST_KEYS, ListKey
from bot.domain.aws_auth_reading import Reading, read
from bot.domain.errors import PermanentError

MAX_DATA_BYTES = 1024 * 1024  # a ConfigMap's data may not exceed 1 MiB


class AwsAuthUnsafeEdit(PermanentError):
    """An edit would remap a principal, lose or change a foreign entry, or exceed 1 MiB."""


def verify_safe_edit(before: dict[str, str], after: dict[str, str]) -> None:
    """Raise AwsAuthUnsafeEdit unless `after` maps every principal the bot does not own as
    `before` does, and keeps every foreign entry and key of `before`.

    Principals: every ARN of an entry the bot did not write, in either data and either list,
    and of the bot's entries an `sso:` entry may cover; compared are the authenticator's
    username, groups and ambiguity, the `mapAccounts` default included. Only a change back to
    what the foreign entries say alone (the bot's entry removed) passes. Besides: keys other
    than mapRoles/mapUsers byte-identical; in a changed list, the foreign entries' full
    content in the same order, both texts readable; the whole data within 1 MiB.
    """
    for key in sorted((before.keys() | after.keys()) - set(LIST_KEYS)):
        if before.get(key) != after.get(key):
            raise AwsAuthUnsafeEdit(f"Refusing to write aws-auth: the edit would change {key}.")
    old, new = read(before), read(after)
    for key in LIST_KEYS:
        if before.get(key) != after.get(key):
            _verify_foreign_items(key, before, old, after, new)
    for arn in sorted({**new.guarded_arns(), **old.guarded_arns()}.values()):
        was, now = old.resolve(arn), new.resolve(arn)
        if now.outcomes == was.outcomes:
            continue
        if not now.involves_owned and now.outcomes == old.resolve(arn, owned=False).outcomes:
            continue  # the bot's entry no longer shadows the foreign one
        raise AwsAuthUnsafeEdit(
            f"Refusing to write aws-auth: the authenticator would map {arn} to "
            f"{now.describe()} instead of {was.describe()}."
        )
    size = sum(_utf8_len(k) + _utf8_len(v) for k, v in after.items())
    if size > MAX_DATA_BYTES:
        raise AwsAuthUnsafeEdit(
            f"Refusing to write aws-auth: its data would be {size} bytes, more than the 1 MiB "
            "(1048576 bytes) a ConfigMap may hold."
        )


def _verify_foreign_items(
    key: ListKey, before: dict[str, str], old: Reading, after: dict[str, str], new: Reading
) -> None:
    old_items, old_forms = _foreign_items(key, before, old, "cannot be read")
    _, new_forms = _foreign_items(key, after, new, "would not parse")
    if old_forms != new_forms:
        lost = next(
            (i for i, f in zip(old_items, old_forms, strict=True) if f not in new_forms), None
        )
        detail = f" ({lost!r} would be lost or changed)" if lost is not None else ""
        raise AwsAuthUnsafeEdit(
            f"Refusing to write aws-auth: the entries in {key} the bot did not create "
            f"would not stay exactly as they are{detail}."
        )


def _foreign_items(
    key: ListKey, data: dict[str, str], reading: Reading, fails: str
) -> tuple[list[Any], list[Any]]:
    """The parsed items of list `key` that are not the bot's own entries, and their
    canonical forms."""
    listing = reading.list(key)
    try:
        if listing.problem is not None:
            raise text_edits.ListUnreadable(f"for the authenticator {listing.problem}")
        items = text_edits.load_list(data.get(key, ""))
        forms = text_edits.canonical_items(data.get(key, ""))
    except text_edits.ListUnreadable as error:
        raise AwsAuthUnsafeEdit(f"Refusing to write aws-auth: {key} {fails}, {error}.") from error
    if len(items) != len(listing.entries):  # one node tree, so this would be a bug
        raise AwsAuthUnsafeEdit(f"Refusing to write aws-auth: {key} reads two different ways.")
    owned = {e.index for e in listing.entries if e.owned}
    foreign = [n for n in range(len(items)) if n not in owned]
    return [items[n] for n in foreign], [forms[n] for n in foreign]


def _utf8_len(value: str) -> int:
    return len(value.encode("utf-8", errors="surrogatepass"))
