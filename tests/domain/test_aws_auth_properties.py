"""Properties of the aws-auth editor over generated, realistically messy aws-auth documents.

The generator writes YAML by hand (comments, indentation, quoting, flow and block lists, blank
lines, trailing spaces) with what real aws-auth documents get wrong: field names in any letter
case, duplicates (user ARNs that differ only in letter case among them), mistyped fields,
entries without their ARN, `sso:` entries, lists that do not parse, wrong-case data keys, and
scalars go-yaml reads differently from PyYAML. Every check of what the authenticator does is
made with `tests.support.aws_auth_model`, an independent model of it, never with the bot's own
reader; the bot's reader is compared with that model too.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from functools import cache
from random import Random
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from bot.domain.aws_auth import (
    MAX_DATA_BYTES,
    AwsAuthAmbiguous,
    AwsAuthUnreadable,
    AwsAuthUnsafeEdit,
    Mapping,
    find_mapping,
    resolution,
    verify_safe_edit,
    with_mapping,
    without_mapping,
)
from bot.domain.aws_auth_entries import read_list
from bot.domain.principals import Principal
from tests.support import aws_auth_model as model


@dataclass(frozen=True)
class Raw:
    """A plain scalar written as is, for the spellings go-yaml and PyYAML read differently."""

    text: str


LIST_KEYS = ("mapRoles", "mapUsers")
ACCOUNTS = ["111122223333", "444455556666"]
BOT_ACCOUNT = "999900001111"  # where earlier bot entries live in generated documents
FRESH_ACCOUNT = "777700002222"  # never in a generated document
SSO_NAMES = ["AWSReservedSSO_AdministratorAccess_0123abcd", "awsreservedsso_ReadOnly_ff00"]
NAMES = ["dev", "Dev", "ops", "admin", "node-group-1", *SSO_NAMES]
ODD_TEXT = ["yes", "123", "a: b", "# not a comment", "it's", "", "ü-user", "null", "[x]", "-"]
GO_TEXT = [
    Raw("y"),
    Raw("1:30"),
    Raw("2001-12-14"),
    Raw("0123"),
    Raw("~"),
]  # go-yaml: true, text, text, 83, null
GROUPS = ["system:masters", "devs", "view-only", "eks-access:devs", "on", "a,b"]
SPELLINGS = {
    "rolearn": ["rolearn", "rolearn", "rolearn", "roleARN", "RoleArn", "ROLEARN"],
    "userarn": ["userarn", "userarn", "userarn", "userARN", "UserArn"],
    "username": ["username", "username", "username", "UserName", "userName", "u\u017fername"],
    "groups": ["groups", "groups", "Groups", "GROUPS"],
    "sso": ["sso", "sso", "SSO"],
}
UNIVERSE = sorted(
    {
        f"arn:aws:iam::{a}:{k}/{n}".lower()
        for a in [*ACCOUNTS, BOT_ACCOUNT]
        for k in ("role", "user")
        for n in NAMES
    }
)

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
    if isinstance(value, Raw):
        return value.text
    if value is None:
        return "null" if quoting == "plain" else "~"
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
            return [
                f"{' ' * col}{k}: {self.flow(v, False)}{self.line_end()}" for k, v in value.items()
            ]
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
usernames = st.one_of(
    st.sampled_from([*NAMES, *ODD_TEXT, "{{AccountID}}"]),
    st.sampled_from([*GO_TEXT, 5, None]),  # mistyped or read differently by go-yaml
)
groups_values = st.one_of(
    group_lists,
    group_lists,
    st.sampled_from(["system:masters", 7, None, [5, "ops"], [Raw("y"), "devs"]]),  # mistyped
)


@st.composite
def spelled(draw: Any, entry: dict[str, Any]) -> dict[str, Any]:
    """`entry` with its field names spelled in some letter case, sometimes twice."""
    out: dict[str, Any] = {}
    for name, value in entry.items():
        key = draw(st.sampled_from(SPELLINGS.get(name, [name])))
        out[key] = value
        if name in ("rolearn", "userarn", "username") and draw(st.integers(0, 15)) == 0:
            out[draw(st.sampled_from(SPELLINGS[name]))] = draw(usernames)  # a second spelling
    return out


def foreign_entry(arn_key: str, kind: str) -> st.SearchStrategy[dict[str, Any]]:
    plain = st.builds(
        lambda arn, username, groups, extra: {
            arn_key: arn,
            "username": username,
            "groups": groups,
            **extra,
        },
        arns(kind) | (arns("role") if kind == "user" else arns(kind)),
        usernames,
        groups_values,
        extras,
    )
    arnless = st.builds(
        lambda arn, username: {**arn, "username": username},
        st.sampled_from([{}, {arn_key: ""}, {arn_key: 5}, {arn_key: None}]),
        usernames,
    )
    return st.one_of(plain, plain, plain, arnless).flatmap(spelled)


node_roles = st.builds(
    lambda arn, windows: {
        "rolearn": arn,
        "username": "system:node:{{EC2PrivateDNSName}}",
        "groups": ["system:bootstrappers", "system:nodes"]
        + (["eks:kube-proxy-windows"] if windows else []),
    },
    arns("role"),
    st.booleans(),
).flatmap(spelled)
sso_roles = st.builds(
    lambda name, account, partition, groups, arn: {
        "sso": {"permissionSetName": name, "accountID": account, **partition},
        "username": "sso:{{SessionName}}",
        "groups": groups,
        **arn,
    },
    st.sampled_from(["AdministratorAccess", "ReadOnly", "administratoraccess"]),
    st.sampled_from([*ACCOUNTS, Raw(ACCOUNTS[0])]),  # unquoted: a number, so invalid
    st.sampled_from([{}, {}, {"partition": "aws"}]),
    group_lists,
    st.sampled_from([{}, {}, {}, {"rolearn": f"arn:aws:iam::{ACCOUNTS[0]}:role/{SSO_NAMES[0]}"}]),
).flatmap(spelled)
non_entries = st.sampled_from(["just text", 5, None, ["a"]])


def own_entries(arn_key: str, kind: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda arn, groups, session: {
            arn_key: arn,
            "username": Principal.parse(arn).session_username
            if session and kind == "role"
            else Principal.parse(arn).username,
            "groups": groups,
        },
        arns(kind, [BOT_ACCOUNT]),
        group_lists,
        st.booleans(),
    )


def tagged_entries(key: str) -> st.SearchStrategy[list[tuple[Any, bool | None]]]:
    """Entries, each tagged: foreign (False), the bot's one line (True), or reformatted (None)."""
    arn_key, kind = ("rolearn", "role") if key == "mapRoles" else ("userarn", "user")
    foreign = foreign_entry(arn_key, kind)
    if key == "mapRoles":
        foreign = st.one_of(foreign, foreign, node_roles, sso_roles)
    own = own_entries(arn_key, kind)
    tagged = st.one_of(
        foreign.map(lambda e: (e, False)),
        foreign.map(lambda e: (e, False)),
        own.map(lambda e: (e, True)),
        own.flatmap(spelled).map(lambda e: (e, None)),
        non_entries.map(lambda e: (e, False)),
    )
    return st.lists(tagged, max_size=6)


TAGGED_ENTRIES = {key: tagged_entries(key) for key in LIST_KEYS}


@dataclass
class ListValue:
    text: str
    layout: str  # "block", "flow", "blank", "missing" or "broken"
    entries: list[Any]


def write_list(style: Style, entries: list[Any], owned_lines: set[int]) -> ListValue:
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
        elif isinstance(entry, dict) and entry:
            lines.extend(style.block_entry(entry, indent))
        else:
            lines.append(" " * indent + "- " + style.flow(entry, inside_flow=False))
    lines.extend(style.filler(indent))
    text = "\n".join(lines) + style.pick(["\n", "\n", "", "\n\n"])
    return ListValue(text, "block", entries)


BREAKAGES = [
    lambda t: t + "\n- rolearn: [unclosed\n",  # not YAML
    lambda t: "rolearn: x\nusername: y\n",  # a mapping, not a list
    lambda t: t.rstrip("\n") + "\n- {rolearn: x, username: .inf}\n",  # JSON has no infinity
    lambda t: t.rstrip("\n") + "\n- {rolearn: x, username: !custom y}\n",  # PyYAML has no !custom
    lambda t: t.rstrip("\n") + "\n- {rolearn: x, ~: y}\n",  # a null key
]


@st.composite
def list_values(draw: Any, key: str) -> ListValue:
    tagged = draw(TAGGED_ENTRIES[key])
    style = Style(draw(st.randoms(use_true_random=False)))
    # Key order is free for everything but the bot's own one-line entries.
    entries = [
        dict(style.random.sample(list(e.items()), len(e)))
        if isinstance(e, dict) and own is not True
        else e
        for e, own in tagged
    ]
    owned_lines = {number for number, (_, own) in enumerate(tagged) if own is True}
    duplicable = [e for e, own in tagged if own is False and isinstance(e, dict)]
    if duplicable and draw(st.integers(0, 2)) == 0:
        # the same principal again, its ARN in another letter case (random for users)
        twin = dict(draw(st.sampled_from(duplicable)))
        for k, v in twin.items():
            if isinstance(v, str) and v.lower().startswith("arn:"):
                twin[k] = v[: v.rindex("/") + 1] + v[v.rindex("/") + 1 :].swapcase()
        entries.append({**twin, "username": "twin"})
    value = write_list(style, entries, owned_lines)
    if value.layout == "block" and draw(st.integers(0, 9)) == 0:
        return ListValue(draw(st.sampled_from(BREAKAGES))(value.text), "broken", entries)
    return value


@st.composite
def documents(draw: Any) -> tuple[dict[str, str], dict[str, ListValue]]:
    lists = {key: draw(list_values(key)) for key in LIST_KEYS}
    data = {key: value.text for key, value in lists.items() if value.layout != "missing"}
    accounts = draw(st.lists(st.sampled_from([*ACCOUNTS, BOT_ACCOUNT]), max_size=3))
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
    if draw(st.integers(0, 4)) == 0:  # wrong-case keys: the authenticator ignores them
        data[draw(st.sampled_from(["maproles", "MapRoles", "mapusers"]))] = draw(
            list_values("mapRoles")
        ).text
    unknown = draw(st.dictionaries(st.sampled_from(["notes", "x", "mapExtra"]), st.text()))
    data.update(unknown)
    return data, lists


# ---------------------------------------------------------------------------------------------
# What the bot may and must do, decided with the independent model


def editor_reads(text: str | None) -> bool:
    """Whether the bot's text editor can work on a list (it reads it back with libyaml)."""
    if text is None or text.strip() in ("", "``", '""', "''"):
        return True
    try:
        value = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return False
    return value is None or value == "" or isinstance(value, list)


def entries_of(data: dict[str, str], key: str) -> tuple[model.Decoded, ...]:
    return model.decode_list(key, data.get(key)) or ()


def own_positions(data: dict[str, str], subject: str) -> dict[str, list[int]]:
    return {
        key: [e.index for e in entries_of(data, key) if model.owned(e) and model.covers(e, subject)]
        for key in LIST_KEYS
    }


def refusal(data: dict[str, str], op: tuple[str, Any]) -> str | None:
    """Why the bot must refuse `op` on `data`, or None when it must carry it out."""
    verb, target = op
    arn = target.arn if verb == "add" else target
    subject = arn.lower()
    kind = Principal.parse(subject).kind
    own_list = "mapRoles" if (target.kind if verb == "add" else kind) == "role" else "mapUsers"
    needed = [own_list] if own_list == "mapUsers" or verb == "remove" else list(LIST_KEYS)
    for key in needed:
        if model.decode_list(key, data.get(key)) is None:
            return f"the authenticator cannot read {key}"
        if verb == "add" and not editor_reads(data.get(key)):
            return f"the editor cannot read {key}"
    for key, positions in own_positions(data, subject).items():
        if positions and not editor_reads(data.get(key)):
            return f"an own entry sits in {key}, which the editor cannot read"
    if verb == "add":
        for key in LIST_KEYS:
            if any(not model.owned(e) and model.covers(e, subject) for e in entries_of(data, key)):
                return f"a foreign entry in {key} may map {subject}"
    return None


def subjects(*documents: dict[str, str]) -> list[str]:
    found = set(UNIVERSE)
    for data in documents:
        for key in LIST_KEYS:
            found |= {
                e.arn.lower()
                for e in entries_of(data, key)
                if e.arn.isascii() and e.arn.startswith("arn:")
            }
    return sorted(found)


def mappings(names: list[str]) -> st.SearchStrategy[Mapping]:
    return st.builds(
        lambda kind, account, name, groups, session: Mapping(
            kind,
            f"arn:aws:iam::{account}:{kind}/{name}",
            f"eks-access:{account}:{kind}/{name}"
            + (":{{SessionName}}" if session and kind == "role" else ""),
            tuple(groups),
        ),
        st.sampled_from(["role", "user"]),
        st.sampled_from([*ACCOUNTS, BOT_ACCOUNT]),
        st.sampled_from(names),
        group_lists,  # a re-add with other groups replaces the bot's entry
        st.booleans(),
    )


def operations(data: dict[str, str]) -> st.SearchStrategy[list[tuple[str, Any]]]:
    """Edits, half of them aimed at principals the document already has entries for."""
    present = [
        m.group(1)
        for key in LIST_KEYS
        for e in entries_of(data, key)
        if (m := re.fullmatch(r"arn:aws:iam::[0-9]{12}:(?:role|user)/([\w+=,.@-]+)", e.arn))
    ]
    targets = mappings(NAMES) | (mappings(present) if present else mappings(NAMES))
    return st.lists(
        st.one_of(
            targets.map(lambda m: ("add", m)),
            targets.map(lambda m: ("remove", m.arn)),
            st.sampled_from(NAMES).map(
                lambda n: ("remove", f"ARN:AWS:IAM::{BOT_ACCOUNT}:ROLE/{n}")
            ),
        ),
        min_size=1,
        max_size=6,
    )


PROPERTY = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(documents(), st.data())
def test_every_edit_leaves_every_other_principal_mapped_as_before(
    document: tuple[dict[str, str], dict[str, ListValue]], data: st.DataObject
) -> None:
    state, _ = document
    ops = data.draw(operations(state))
    for op in ops:
        verb, target = op
        subject = (target.arn if verb == "add" else target).lower()
        why = refusal(state, op)
        try:
            new = with_mapping(state, target) if verb == "add" else without_mapping(state, target)
        except (ValueError, AwsAuthUnreadable, AwsAuthAmbiguous) as error:
            assert why is not None, f"{op} was refused: {error}"
            event(f"{verb} refused: {type(error).__name__}")
            continue
        assert why is None, f"{op} should have been refused: {why}"
        event(f"{verb} done")

        for other in subjects(state, new):
            if other != subject:
                assert model.outcome(new, other) == model.outcome(state, other), other
        if verb == "add":
            expected_list = "mapRoles" if target.kind == "role" else "mapUsers"
            assert model.outcome(new, subject) == (
                expected_list,
                {(target.username, target.groups)},
            )
        else:

            def skip(entry: model.Decoded, subject: str = subject) -> bool:
                return model.owned(entry) and model.covers(entry, subject)

            assert model.outcome(new, subject) == model.outcome(state, subject, skip=skip)
            assert not any(own_positions(new, subject).values())
        for key in new.keys() | state.keys():
            if key not in LIST_KEYS:
                assert new.get(key) == state.get(key), key
        verify_safe_edit(state, new)
        again = with_mapping(new, target) if verb == "add" else without_mapping(new, target)
        assert again == new
        state = new


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_the_bots_reading_agrees_with_the_independent_model(
    document: tuple[dict[str, str], dict[str, ListValue]],
) -> None:
    data, lists = document
    for key, value in lists.items():
        theirs = model.decode_list(key, data.get(key))
        mine = read_list(key, data.get(key))
        assert (mine.problem is None) == (theirs is not None), (key, mine.problem)
        if theirs is not None:
            decoded = [
                (
                    e.index,
                    e.arn,
                    e.username,
                    e.groups,
                    None
                    if e.sso is None
                    else (e.sso.permission_set, e.sso.account, e.sso.partition),
                    e.kept,
                )
                for e in mine.entries
            ]
            assert decoded == [
                (e.index, e.arn, e.username, e.groups, e.sso, e.kept) for e in theirs
            ]
            assert [e.owned for e in mine.entries] == [model.owned(e) for e in theirs]
        if value.layout in ("block", "flow") and not _has_raw(value.entries):
            # the generator wrote what it meant
            assert json.dumps(yaml.safe_load(value.text), sort_keys=True) == json.dumps(
                value.entries, sort_keys=True
            )
    for subject in subjects(data):
        source, outcomes = model.outcome(data, subject)
        found = resolution(data, subject)
        assert (found.source, found.outcomes) == (source, outcomes), subject
        if len(outcomes) > 1:
            with pytest.raises(AwsAuthAmbiguous, match="at random"):
                find_mapping(data, subject)


def _has_raw(value: Any) -> bool:
    if isinstance(value, Raw):
        return True
    if isinstance(value, dict):
        return any(_has_raw(v) for v in value.values())
    return isinstance(value, list) and any(_has_raw(v) for v in value)


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(documents(), st.sampled_from(["role", "user"]), st.sampled_from(NAMES), group_lists)
def test_add_then_remove_restores_the_document(
    document: tuple[dict[str, str], dict[str, ListValue]], kind: str, name: str, groups: list[str]
) -> None:
    original, lists = document
    arn = f"arn:aws:iam::{FRESH_ACCOUNT}:{kind}/{name}"
    username = f"eks-access:{FRESH_ACCOUNT}:{kind}/{name}"
    mapping = Mapping("role" if kind == "role" else "user", arn, username, tuple(groups))
    assume(refusal(original, ("add", mapping)) is None)
    key = "mapRoles" if kind == "role" else "mapUsers"
    value = lists[key]

    added = with_mapping(original, mapping)
    restored = without_mapping(added, arn)
    for other in subjects(original):
        assert model.outcome(restored, other) == model.outcome(original, other)
    # The text path was taken wherever the layout allows it: foreign bytes are untouched.
    if value.layout == "block":
        base = value.text if value.text.endswith("\n") else value.text + "\n"
        assert added[key].startswith(base)
        appended = added[key][len(base) :]
        assert appended.count("\n") == 1 and appended.lstrip().startswith("- {")
        if base == value.text:
            assert restored == original
    if value.layout in ("blank", "missing") and value.text in ("", "# nothing yet\n"):
        assert restored.get(key, "") == original.get(key, "")
    assert with_mapping(added, mapping) == added


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(documents(), st.data())
def test_verify_safe_edit_notices_a_lost_or_changed_foreign_entry(
    document: tuple[dict[str, str], dict[str, ListValue]], data: st.DataObject
) -> None:
    original, _ = document
    foreign = [
        (key, e.index)
        for key in LIST_KEYS
        if editor_reads(original.get(key))
        for e in entries_of(original, key)
        if not model.owned(e)
    ]
    assume(foreign)
    key, number = data.draw(st.sampled_from(foreign))
    entries = yaml.safe_load(original[key])
    if data.draw(st.booleans()) or not isinstance(entries[number], dict):
        del entries[number]
    else:
        entries[number] = {
            k: f"{v}-x" if isinstance(v, str) else v for k, v in entries[number].items()
        }
        assume(entries[number] != yaml.safe_load(original[key])[number])
    with pytest.raises(AwsAuthUnsafeEdit):
        verify_safe_edit(original, {**original, key: yaml.safe_dump(entries)})


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(documents(), st.data())
def test_verify_safe_edit_notices_an_entry_that_shadows_a_foreign_one(
    document: tuple[dict[str, str], dict[str, ListValue]], data: st.DataObject
) -> None:
    original, _ = document
    candidates = [
        e.arn
        for key in LIST_KEYS
        for e in entries_of(original, key)
        if e.kept and e.arn and not model.owned(e) and _principal(e.arn) is not None
    ]
    assume(candidates)
    arn = data.draw(st.sampled_from(candidates))
    principal = _principal(arn)
    assert principal is not None
    key = data.draw(st.sampled_from(LIST_KEYS))
    assume(
        model.decode_list(key, original.get(key)) is not None and editor_reads(original.get(key))
    )
    assume(
        yaml.safe_load(original.get(key) or "[]") in (None, [])
        or not original[key].lstrip().startswith("[")
    )
    line = f'- {{{"rolearn" if key == "mapRoles" else "userarn"}: "{arn}", username: "{principal.username}", groups: []}}\n'
    text = original.get(key, "")
    shadowed = {**original, key: (text if text.endswith("\n") or not text else text + "\n") + line}
    assume(model.decode_list(key, shadowed[key]) is not None)
    # What the caller gets (username and groups), not which list it comes from: an entry that
    # repeats what a shadowed one gave changes nothing for the authenticator's answer.
    assume(model.outcome(shadowed, arn.lower())[1] != model.outcome(original, arn.lower())[1])
    with pytest.raises(AwsAuthUnsafeEdit):
        verify_safe_edit(original, shadowed)


def _principal(arn: str) -> Principal | None:
    try:
        return Principal.parse(arn.lower())
    except ValueError:
        return None


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
