"""Properties of the aws-auth editor over generated, realistically messy aws-auth documents.

The generator writes YAML by hand (comments, indentation, quoting, flow and block lists, blank
lines, trailing spaces) and the checks read it back with PyYAML, independently of the module.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from functools import cache, lru_cache
from random import Random
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bot.domain.aws_auth import (
    MAX_DATA_BYTES,
    AwsAuthUnsafeEdit,
    Mapping,
    find_mapping,
    owned_mappings,
    owns,
    parse_mappings,
    verify_safe_edit,
    with_mapping,
    without_mapping,
)
from bot.domain.principals import Principal

LIST_KEYS = {"mapRoles": "rolearn", "mapUsers": "userarn"}
ACCOUNTS = ["111122223333", "444455556666"]
BOT_ACCOUNT = "999900001111"  # where earlier bot entries live in generated documents
FRESH_ACCOUNT = "777700002222"  # never in a generated document
NAMES = ["dev", "Dev", "ops", "admin", "node-group-1", "ci"]
ODD_TEXT = ["yes", "123", "a: b", "# not a comment", "it's", "", "ü-user", "null", "[x]", "-"]
GROUPS = ["system:masters", "devs", "view-only", "eks-access:devs", "on", "a,b"]

# ---------------------------------------------------------------------------------------------
# Writing YAML by hand

LOADERS = [yaml.SafeLoader, getattr(yaml, "CSafeLoader", yaml.SafeLoader)]


@cache
def _plain_reads_back(value: str, flow: bool) -> bool:
    if value != value.strip() or "\n" in value or " #" in value:
        return False
    # Tried in every position the generator uses it: plain scalars are context-sensitive.
    if flow:
        document = f"[{value}, {value} ,{value},\n{{k: {value} ,j: {value},  l: {value}}}]"
        expected = [value, value, value, {"k": value, "j": value, "l": value}]
    else:
        document, expected = f"- k: {value}\n  j: 1\n- {value}\n", [{"k": value, "j": 1}, value]
    # libyaml (which go-yaml follows) is stricter than pure-Python PyYAML: both must agree.
    try:
        return all(yaml.load(document, Loader=loader) == expected for loader in LOADERS)
    except yaml.YAMLError:
        return False


def scalar(value: Any, quoting: str, flow: bool) -> str:
    if not isinstance(value, str):
        return str(value)
    if quoting == "plain" and _plain_reads_back(value, flow):
        return value
    if quoting == "single":
        return "'" + value.replace("'", "''") + "'"
    return json.dumps(value)


@dataclass
class Style:
    """Formatting choices, from a Random that hypothesis controls (cheaper than many draws)."""

    random: Random
    quoting: list[str] = field(default_factory=lambda: ["plain", "single", "double"])

    def pick(self, options: list[Any]) -> Any:
        return self.random.choice(options)

    def scalar(self, value: Any, flow: bool = False) -> str:
        return scalar(value, self.pick(self.quoting), flow)

    def flow(self, value: Any, inside_flow: bool = True) -> str:
        """`value` in flow style; a bare scalar is written for the context it sits in."""
        if isinstance(value, dict):
            pairs = [f"{k}: {self.flow(v)}" for k, v in value.items()]
            return "{" + self.pick([", ", ",  ", " ,"]).join(pairs) + "}"
        if isinstance(value, list):
            return "[" + ", ".join(self.flow(v) for v in value) + "]"
        return self.scalar(value, flow=inside_flow)

    def line_end(self) -> str:
        return self.pick(["", "", "  ", "   # note", " # comment  "])

    def filler(self, indent: int) -> list[str]:
        """Blank and comment lines that may sit between entries."""
        return self.pick(
            [[], [], [""], ["  "], [" " * indent + "# a comment"], ["# col 0 comment", ""]]
        )

    def block_entry(self, entry: dict[str, Any], indent: int) -> list[str]:
        gap = self.pick([1, 1, 3])
        key_col = indent + 1 + gap
        lines: list[str] = []
        for number, (key, value) in enumerate(entry.items()):
            lead = " " * indent + "-" + " " * gap if number == 0 else " " * key_col
            if isinstance(value, list | dict) and value and self.pick([True, False]):
                lines.append(f"{lead}{key}:{self.pick(['', ' ', '  # block follows'])}")
                lines.extend(self.block_value(value, key_col))
            else:
                text = self.flow(value, inside_flow=False)
                lines.append(f"{lead}{key}: {text}{self.line_end()}")
        return lines

    def block_value(self, value: list[Any] | dict[str, Any], key_col: int) -> list[str]:
        if isinstance(value, dict):
            col = key_col + self.pick([2, 4])
            return [f"{' ' * col}{k}: {self.scalar(v)}{self.line_end()}" for k, v in value.items()]
        col = key_col + self.pick([0, 2, 4])  # 0: an "indentless" list, as eksctl writes it
        return [f"{' ' * col}- {self.scalar(v)}{self.line_end()}" for v in value]


def bot_line(entry: dict[str, Any]) -> str:
    """An entry exactly as the bot writes it (as a previous run would have left it)."""
    arn_key = "rolearn" if "rolearn" in entry else "userarn"
    groups = ", ".join(json.dumps(g) for g in entry["groups"])
    return (
        f"{{{arn_key}: {json.dumps(entry[arn_key])}, "
        f"username: {json.dumps(entry['username'])}, groups: [{groups}]}}"
    )


@dataclass
class ListValue:
    text: str
    layout: str  # "block", "flow", "blank" or "missing"
    entries: list[Any]


def write_list(style: Style, entries: list[dict[str, Any]], owned_lines: set[int]) -> ListValue:
    if not entries:
        blank = style.pick(["", "\n", "[]", "''", '""', "# nothing yet\n", None])
        if blank is None:
            return ListValue("", "missing", [])
        return ListValue(blank, "blank", [])
    if style.pick(["block", "block", "block", "flow"]) == "flow":
        sep = style.pick([", ", ",\n  ", " ,\n"])
        text = "[" + sep.join(style.flow(e) for e in entries) + "]" + style.pick(["", "\n"])
        return ListValue(text, "flow", entries)
    indent = style.pick([0, 0, 2, 4])
    lines = style.pick([[], ["---"], ["# aws-auth mapping, edit with care"]])
    for number, entry in enumerate(entries):
        lines.extend(style.filler(indent))
        if number in owned_lines:
            lines.append(" " * indent + "- " + bot_line(entry))
        else:
            lines.extend(style.block_entry(entry, indent))
    lines.extend(style.filler(indent))
    text = "\n".join(lines) + style.pick(["\n", "\n", "", "\n\n"])
    return ListValue(text, "block", entries)


# ---------------------------------------------------------------------------------------------
# Entries


def arns(kind: str, accounts: list[str] = ACCOUNTS) -> st.SearchStrategy[str]:
    return st.builds(
        lambda account, name: f"arn:aws:iam::{account}:{kind}/{name}",
        st.sampled_from(accounts),
        st.sampled_from(NAMES),
    )


group_lists = st.lists(st.sampled_from(GROUPS), max_size=3)
extras = st.dictionaries(
    st.sampled_from(["userid", "x-note", "ticket"]),
    st.one_of(st.sampled_from(ODD_TEXT), st.integers(0, 10**6)),
    max_size=2,
)


def _entry(arn_key: str, arn: str, username: str, groups: list[str], extra: dict[str, Any]):
    return {arn_key: arn, "username": username, "groups": groups, **extra}


node_roles = st.builds(
    lambda arn, windows: {
        "rolearn": arn,
        "username": "system:node:{{EC2PrivateDNSName}}",
        "groups": ["system:bootstrappers", "system:nodes"]
        + (["eks:kube-proxy-windows"] if windows else []),
    },
    arns("role"),
    st.booleans(),
)
sso_roles = st.builds(
    lambda name, account, partition, groups: {
        "sso": {"permissionSetName": name, "accountID": account, **partition},
        "username": "sso:{{SessionName}}",
        "groups": groups,
    },
    st.sampled_from(["AdministratorAccess", "ReadOnly"]),
    st.sampled_from(ACCOUNTS),
    st.sampled_from([{}, {"partition": "aws"}]),
    group_lists,
)
foreign_roles = st.one_of(
    node_roles,
    sso_roles,
    st.builds(
        _entry,
        st.just("rolearn"),
        arns("role"),
        st.sampled_from([*NAMES, *ODD_TEXT]),
        group_lists,
        extras,
    ),
)
foreign_users = st.builds(
    _entry,
    st.just("userarn"),
    arns("user") | arns("role"),
    st.sampled_from([*NAMES, *ODD_TEXT, "{{AccountID}}"]),
    group_lists,
    extras,
)


def own_entries(arn_key: str, kind: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda arn, groups: {
            arn_key: arn,
            "username": Principal.parse(arn).username,
            "groups": groups,
        },
        arns(kind, [BOT_ACCOUNT]),
        group_lists,
    )


def tagged_entries(key: str) -> st.SearchStrategy[list[tuple[dict[str, Any], bool | None]]]:
    """Entries, each tagged: foreign (False), the bot's one line (True), or reformatted (None)."""
    arn_key, kind = LIST_KEYS[key], "role" if key == "mapRoles" else "user"
    foreign = foreign_roles if key == "mapRoles" else foreign_users
    own = own_entries(arn_key, kind)
    tagged = st.one_of(
        foreign.map(lambda e: (e, False)),
        own.map(lambda e: (e, True)),
        own.map(lambda e: (e, None)),
    )
    return st.lists(tagged, max_size=6)


TAGGED_ENTRIES = {key: tagged_entries(key) for key in LIST_KEYS}


@st.composite
def list_values(draw: Any, key: str) -> ListValue:
    tagged = draw(TAGGED_ENTRIES[key])
    style = Style(draw(st.randoms(use_true_random=False)))
    # Key order is free for everything but the bot's own one-line entries.
    dicts = [e if own else dict(style.random.sample(list(e.items()), len(e))) for e, own in tagged]
    owned_lines = {number for number, (_, own) in enumerate(tagged) if own is True}
    return write_list(style, dicts, owned_lines)


@st.composite
def documents(draw: Any) -> tuple[dict[str, str], dict[str, ListValue]]:
    lists = {key: draw(list_values(key)) for key in LIST_KEYS}
    data = {key: value.text for key, value in lists.items() if value.layout != "missing"}
    accounts = draw(st.lists(st.sampled_from(ACCOUNTS), max_size=3))
    if accounts:
        data["mapAccounts"] = draw(
            st.sampled_from(
                [
                    "".join(f"- {a}\n" for a in accounts),
                    "".join(f"  - '{a}'   # partner\n" for a in accounts),
                    json.dumps(accounts),
                ]
            )
        )
    unknown = draw(st.dictionaries(st.sampled_from(["notes", "x", "mapExtra"]), st.text()))
    data.update(unknown)
    return data, lists


# ---------------------------------------------------------------------------------------------
# Checks, independent of the module


def read(data: dict[str, str], key: str) -> list[Any]:
    return json.loads(_read_as_json(data.get(key, "")))


@lru_cache(maxsize=4096)
def _read_as_json(value: str) -> str:
    """Parsed with the pure-Python PyYAML parser (the module prefers libyaml); cached by text."""
    if value.strip() in ("", "``", '""', "''"):
        return "[]"
    return json.dumps(yaml.load(value, Loader=yaml.SafeLoader) or [])


def dump(value: Any) -> str:
    """Order-free for mapping keys, strict about types (unlike ==, where 1 == True)."""
    return json.dumps(value, sort_keys=True)


def is_owned(entry: Any) -> bool:
    if not isinstance(entry, dict):
        return False
    arn = entry.get("rolearn", entry.get("userarn"))
    return isinstance(arn, str) and owns(arn, str(entry.get("username")))


def foreign_entries(data: dict[str, str]) -> dict[str, list[Any]]:
    return {key: [e for e in read(data, key) if not is_owned(e)] for key in LIST_KEYS}


def own_entries_by_key(data: dict[str, str]) -> dict[str, list[Any]]:
    return {key: [e for e in read(data, key) if is_owned(e)] for key in LIST_KEYS}


def same_content(a: dict[str, str], b: dict[str, str]) -> bool:
    lists_equal = all(dump(read(a, k)) == dump(read(b, k)) for k in LIST_KEYS)
    others = {k: v for k, v in a.items() if k not in LIST_KEYS}
    return lists_equal and others == {k: v for k, v in b.items() if k not in LIST_KEYS}


def has_foreign_entry_for(data: dict[str, str], arn: str) -> bool:
    return any(
        isinstance(e, dict) and str(e.get(arn_key, "")).lower() == arn.lower()
        for key, arn_key in LIST_KEYS.items()
        for e in foreign_entries(data)[key]
    )


mappings = st.builds(
    lambda kind, account, name, groups: Mapping(
        kind,
        f"arn:aws:iam::{account}:{kind}/{name}",
        f"eks-access:{account}:{kind}/{name}",
        tuple(groups),
    ),
    st.sampled_from(["role", "user"]),
    st.sampled_from([*ACCOUNTS, BOT_ACCOUNT]),
    st.sampled_from(NAMES),
    group_lists,  # a re-add with other groups replaces the bot's entry
)
operations = st.lists(
    st.one_of(
        mappings.map(lambda m: ("add", m)),
        mappings.map(lambda m: ("remove", m.arn)),
        st.sampled_from(NAMES).map(lambda n: ("remove", f"ARN:AWS:IAM::{BOT_ACCOUNT}:ROLE/{n}")),
    ),
    max_size=6,
)


def expected_own_after(before: dict[str, list[Any]], op: tuple[str, Any]) -> dict[str, list[Any]]:
    verb, target = op
    arn = target.arn if verb == "add" else target
    after = {}
    for key, arn_key in LIST_KEYS.items():
        kept = [e for e in before[key] if str(e.get(arn_key, "")).lower() != arn.lower()]
        if verb == "add" and key == ("mapRoles" if target.kind == "role" else "mapUsers"):
            own = [e for e in before[key] if e not in kept]
            after[key] = before[key] if own == [target.entry()] else [*kept, target.entry()]
        else:
            after[key] = kept
    return after


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents(), operations)
def test_any_sequence_of_edits_keeps_foreign_content(
    document: tuple[dict[str, str], dict[str, ListValue]], ops: list[tuple[str, Any]]
) -> None:
    original, lists = document
    for key, value in lists.items():  # the generator wrote what it meant to
        assert dump(read(original, key)) == dump(value.entries)
    foreign = foreign_entries(original)
    state = original
    for op in ops:
        verb, target = op
        if verb == "add" and has_foreign_entry_for(original, target.arn):
            with pytest.raises(ValueError):
                with_mapping(state, target)
            continue
        expected_own = expected_own_after(own_entries_by_key(state), op)
        new = with_mapping(state, target) if verb == "add" else without_mapping(state, target)

        # (a) foreign entries identical, in the same order; (c) everything parses
        assert dump(foreign_entries(new)) == dump(foreign)
        verify_safe_edit(original, new)
        parse_mappings(new)
        assert own_entries_by_key(new) == expected_own
        # (b) keys that did not need to change are byte-identical
        for key in new.keys() | state.keys():
            if key not in LIST_KEYS or expected_own[key] == own_entries_by_key(state)[key]:
                assert new.get(key) == state.get(key), key
        # (e) idempotence
        again = with_mapping(new, target) if verb == "add" else without_mapping(new, target)
        assert again == new
        if verb == "add":
            assert find_mapping(new, target.arn.upper()) == target
        else:
            assert all(not m.owned for m in parse_mappings(new) if m.arn.lower() == target.lower())
        state = new
    assert owned_mappings(state) == [m for m in parse_mappings(state) if owns(m.arn, m.username)]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents(), st.sampled_from(["role", "user"]), st.sampled_from(NAMES), group_lists)
def test_add_then_remove_restores_the_document(
    document: tuple[dict[str, str], dict[str, ListValue]], kind: str, name: str, groups: list[str]
) -> None:
    original, lists = document
    arn = f"arn:aws:iam::{FRESH_ACCOUNT}:{kind}/{name}"
    username = f"eks-access:{FRESH_ACCOUNT}:{kind}/{name}"
    mapping = Mapping("role" if kind == "role" else "user", arn, username, tuple(groups))
    key = "mapRoles" if kind == "role" else "mapUsers"
    value = lists[key]

    added = with_mapping(original, mapping)
    # (d) parsed content is restored (a missing or blank list reads as empty)
    restored = without_mapping(added, arn)
    assert same_content(restored, original)
    # The text path was taken wherever the layout allows it: foreign bytes are untouched.
    if value.layout == "block":
        base = value.text if value.text.endswith("\n") else value.text + "\n"
        assert added[key].startswith(base)
        appended = added[key][len(base) :]
        assert appended.count("\n") == 1 and appended.lstrip().startswith("- {")
        if base == value.text:
            assert restored == original
    if value.layout == "blank" and value.text in ("", "# nothing yet\n"):
        assert restored == original
    assert with_mapping(added, mapping) == added


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents(), st.data())
def test_verify_safe_edit_notices_a_lost_or_changed_foreign_entry(
    document: tuple[dict[str, str], dict[str, ListValue]], data: st.DataObject
) -> None:
    original, _ = document
    foreign = [
        (k, n) for k in LIST_KEYS for n, e in enumerate(read(original, k)) if not is_owned(e)
    ]
    assume(foreign)
    key, number = data.draw(st.sampled_from(foreign))
    entries = read(original, key)
    if data.draw(st.booleans()):
        del entries[number]
    else:
        entries[number] = {**entries[number], "username": f"{entries[number]['username']}-x"}
    with pytest.raises(AwsAuthUnsafeEdit):
        verify_safe_edit(original, {**original, key: yaml.safe_dump(entries)})


# ---------------------------------------------------------------------------------------------
# Large documents


def node_role_lines(count: int) -> str:
    return "".join(
        f"# node group {i}\n"
        f"- rolearn: arn:aws:iam::111122223333:role/eks-node-group-{i:05d}-NodeInstanceRole\n"
        "  username: system:node:{{EC2PrivateDNSName}}\n"
        "  groups:\n"
        "    - system:bootstrappers\n"
        "    - system:nodes\n"
        for i in range(count)
    )


def test_documents_near_the_size_limit_are_edited_in_place() -> None:
    roles = node_role_lines(5000)
    users = "".join(f"- userarn: arn:aws:iam::1:user/u{i}\n  username: u{i}\n" for i in range(100))
    data = {"mapRoles": roles, "mapUsers": users, "mapAccounts": "- '111122223333'\n"}
    size = sum(len(k) + len(v) for k, v in data.items())
    assert 0.9 * MAX_DATA_BYTES < size < MAX_DATA_BYTES - 200

    started = time.monotonic()
    role = Mapping(
        "role", "arn:aws:iam::111122223333:role/dev", "eks-access:111122223333:role/dev", ("d",)
    )
    added = with_mapping(data, role)
    assert added["mapRoles"].startswith(roles)
    assert added["mapUsers"] is users
    assert find_mapping(added, role.arn) == role
    assert without_mapping(added, role.arn) == data
    assert time.monotonic() - started < 20


def test_an_edit_that_crosses_the_size_limit_is_refused() -> None:
    roles = node_role_lines(5000)
    padding = MAX_DATA_BYTES - len(roles) - len("mapRoles") - len("padding") - 50
    data = {"mapRoles": roles, "padding": "#" * padding}
    user = Mapping(
        "user", "arn:aws:iam::111122223333:user/someone", "eks-access:111122223333:user/someone"
    )
    with pytest.raises(AwsAuthUnsafeEdit, match="1 MiB"):
        with_mapping(data, user)
