"""Many aws-auth changes in one edit: the same as one after another, each with its own outcome.

What the authenticator makes of each result is checked with `tests.support.aws_auth_model`,
the independent model, never with the bot's own reader.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bot.domain import aws_auth_entries, aws_auth_text
from bot.domain.aws_auth import (
    MAX_DATA_BYTES,
    AwsAuthUnsafeEdit,
    Mapping,
    OwnEdit,
    planned_mapping,
    planned_removal,
    verify_safe_edit,
    with_mapping,
    without_mapping,
)
from bot.domain.aws_auth_batch import Outcome, edited_together
from bot.domain.aws_auth_entries import match_key
from bot.domain.principals import Principal
from tests.domain.test_aws_auth import CLUSTER
from tests.domain.test_aws_auth_properties import (
    LIST_KEYS,
    ListValue,
    documents,
    node_role_lines,
    operations,
    subjects,
)
from tests.support import aws_auth_model as model


@dataclass(frozen=True)
class Add:
    mapping: Mapping

    @property
    def subject(self) -> str:
        return match_key(self.mapping.arn)

    def plan(self, data: dict[str, str]) -> OwnEdit:
        return planned_mapping(data, self.mapping)


@dataclass(frozen=True)
class Remove:
    arn: str

    @property
    def subject(self) -> str:
        return match_key(self.arn)

    def plan(self, data: dict[str, str]) -> OwnEdit:
        return planned_removal(data, self.arn)


def user(name: str, account: str = "111122223333") -> Mapping:
    principal = Principal.parse(f"arn:aws:iam::{account}:user/{name}")
    return Mapping("user", principal.arn, principal.username)


def role(name: str, account: str = "111122223333") -> Mapping:
    principal = Principal.parse(f"arn:aws:iam::{account}:role/{name}")
    return Mapping("role", principal.arn, principal.username)


def one_by_one(data: dict[str, str], ops: list[Add | Remove]) -> tuple[dict[str, str], list[Any]]:
    """The reference: each change alone, in order, as the bot made them before batching."""
    outcomes: list[Any] = []
    for op in ops:
        try:
            if isinstance(op, Add):
                data = with_mapping(data, op.mapping)
            else:
                data = without_mapping(data, op.arn)
        except Exception as refused:
            outcomes.append(refused)
        else:
            outcomes.append(data)
    return data, outcomes


def mapped(data: dict[str, str], arn: str) -> model.Outcome:
    return model.outcome(data, arn.lower())


def test_many_additions_are_one_edit_that_keeps_foreign_bytes() -> None:
    adds = [Add(user(f"u{i:03d}")) for i in range(100)] + [
        Add(role(f"r{i:03d}")) for i in range(20)
    ]

    after, outcomes = edited_together(CLUSTER, adds)

    assert all(o is after for o in outcomes)
    assert after["mapRoles"].startswith(CLUSTER["mapRoles"])
    assert after["mapUsers"].startswith(CLUSTER["mapUsers"])
    assert after["mapAccounts"] == CLUSTER["mapAccounts"]
    assert after["something-else"] == CLUSTER["something-else"]
    for add in adds:
        kind = "mapRoles" if add.mapping.kind == "role" else "mapUsers"
        assert mapped(after, add.mapping.arn) == (kind, {(add.mapping.username, ())})
    for subject in subjects(CLUSTER):
        assert mapped(after, subject) == mapped(CLUSTER, subject), subject
    verify_safe_edit(CLUSTER, after)


def test_a_batch_parses_the_document_a_bounded_number_of_times() -> None:
    """Not once per change: 200 changes cost what one costs, give or take."""
    data = dict(CLUSTER)
    data, _ = edited_together(data, [Add(user(f"seed-{i}")) for i in range(200)])

    def parses(changes: list[Add]) -> int:
        nonlocal data
        before = aws_auth_text._parse.cache_info().misses
        go_before = aws_auth_entries.read_list.cache_info().misses
        data, outcomes = edited_together(data, changes)
        assert not any(isinstance(o, Exception) for o in outcomes)
        return (
            aws_auth_text._parse.cache_info().misses
            - before
            + aws_auth_entries.read_list.cache_info().misses
            - go_before
        )

    one = parses([Add(user("single"))])
    many = parses([Add(user(f"many-{i}")) for i in range(200)])
    assert many <= one + 1, (one, many)


def test_a_refused_change_fails_alone() -> None:
    ops: list[Add | Remove] = [
        Add(user("before")),
        Add(user("alice")),  # mapped by a foreign entry in CLUSTER
        Add(role("ops")),  # mapped by a foreign entry in CLUSTER
        Add(Mapping("user", "arn:aws:iam::111122223333:user/x", "x")),  # not the bot's username
        Add(user("after")),
    ]

    after, outcomes = edited_together(CLUSTER, ops)

    assert [type(o).__name__ for o in outcomes] == [
        "dict",
        "ValueError",
        "ValueError",
        "ValueError",
        "dict",
    ]
    assert "alice" in str(outcomes[1]) and "ops" in str(outcomes[2])
    assert mapped(after, user("before").arn)[0] == "mapUsers"
    assert mapped(after, user("after").arn)[0] == "mapUsers"
    assert mapped(after, user("alice").arn) == mapped(CLUSTER, user("alice").arn)
    assert mapped(after, role("ops").arn) == mapped(CLUSTER, role("ops").arn)


@pytest.mark.parametrize("first", ["add", "remove"])
def test_an_add_and_a_remove_of_one_principal_apply_in_their_order(first: str) -> None:
    bob, carol = user("bob"), user("carol")
    add, remove = Add(bob), Remove(bob.arn)
    ops: list[Add | Remove] = (
        [add, Add(carol), remove] if first == "add" else [remove, Add(carol), add]
    )

    after, outcomes = edited_together(CLUSTER, ops)
    sequential, _ = one_by_one(CLUSTER, ops)

    by_op = dict(zip(map(id, ops), outcomes, strict=True))
    assert mapped(_data(by_op[id(add)]), bob.arn) == ("mapUsers", {(bob.username, ())})
    assert mapped(_data(by_op[id(remove)]), bob.arn) == (None, frozenset())
    expected = (None, frozenset()) if first == "add" else ("mapUsers", {(bob.username, ())})
    assert mapped(after, bob.arn) == mapped(sequential, bob.arn) == expected
    assert mapped(after, carol.arn) == ("mapUsers", {(carol.username, ())})


def test_a_batch_that_would_cross_the_size_limit_keeps_the_changes_that_fit() -> None:
    roles = node_role_lines(5000)
    padding = MAX_DATA_BYTES - len(roles) - len("mapRoles") - len("padding") - 250
    data = {"mapRoles": roles, "padding": "#" * padding}
    adds = [Add(user(f"fits-{i}")) for i in range(6)]

    after, outcomes = edited_together(data, adds)

    done = [o for o in outcomes if not isinstance(o, Exception)]
    refused = [o for o in outcomes if isinstance(o, Exception)]
    assert done and refused, outcomes
    assert all(isinstance(o, AwsAuthUnsafeEdit) and "1 MiB" in str(o) for o in refused)
    assert outcomes[: len(done)] == done  # the first ones fit, the rest are refused
    assert sum(len(k) + len(v) for k, v in after.items()) <= MAX_DATA_BYTES
    for add, outcome in zip(adds, outcomes, strict=True):
        expected = (
            ("mapUsers", {(add.mapping.username, ())}) if outcome in done else (None, frozenset())
        )
        assert mapped(after, add.mapping.arn) == expected


def _ops(raw: list[tuple[str, Any]]) -> list[Add | Remove]:
    return [Add(target) if verb == "add" else Remove(target) for verb, target in raw]


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents(), st.data())
def test_a_batch_is_the_same_as_its_changes_one_by_one(
    document: tuple[dict[str, str], dict[str, ListValue]], data: st.DataObject
) -> None:
    """On messy documents: each change is refused or made exactly as alone, each caller sees
    its own principal as it would have, and the end is the same for every principal."""
    state, _ = document
    ops = _ops(data.draw(operations(state)) + data.draw(operations(state)))

    after, outcomes = edited_together(state, ops)
    sequential, one_by_one_outcomes = one_by_one(state, ops)

    for op, got, alone in zip(ops, outcomes, one_by_one_outcomes, strict=True):
        assert isinstance(got, Exception) == isinstance(alone, Exception), (op, got, alone)
        if isinstance(got, Exception):
            assert type(got) is type(alone), (op, got, alone)
            continue
        assert mapped(_data(got), op.subject) == mapped(alone, op.subject), op
    refused = sum(isinstance(o, Exception) for o in outcomes)
    event(
        "none refused" if not refused else "all refused" if refused == len(ops) else "some refused"
    )
    if len({op.subject for op in ops}) < len(ops):
        event("a principal changed twice in one batch")
    for subject in subjects(state, after, sequential):
        assert mapped(after, subject) == mapped(sequential, subject), subject
    for key in after.keys() | state.keys():
        if key not in LIST_KEYS:
            assert after.get(key) == state.get(key), key
    if after != state:
        verify_safe_edit(state, after)


def _data(outcome: Outcome) -> dict[str, str]:
    assert not isinstance(outcome, Exception)
    return outcome
