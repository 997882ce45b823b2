"""The aws-auth editor: only the bot's own entries change, everything else stays as it was."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from bot.domain.aws_auth import (
    MAX_DATA_BYTES,
    AwsAuthUnreadable,
    AwsAuthUnsafeEdit,
    Mapping,
    find_mapping,
    owned_mappings,
    parse_mappings,
    verify_safe_edit,
    with_mapping,
    without_mapping,
)
from bot.domain.errors import PermanentError
from bot.domain.principals import Principal

NODE_ROLES = """\
# managed by eksctl
- rolearn: arn:aws:iam::111122223333:role/eks-nodes   # node group ng-1
  username: system:node:{{EC2PrivateDNSName}}
  groups:
  - system:bootstrappers
  - system:nodes

- sso:
    permissionSetName: AdministratorAccess
    accountID: "111122223333"
  username: admin:{{SessionName}}
  groups: [system:masters]
- rolearn: arn:aws:iam::111122223333:role/ops
  username: ops
  groups:
    - ops
  userid: AROAEXAMPLE   # unknown to the bot, kept anyway
"""

CLUSTER = {
    "mapRoles": NODE_ROLES,
    "mapUsers": "- userarn: arn:aws:iam::111122223333:user/alice\n  username: alice\n",
    "mapAccounts": "- '444455556666'   # partner account\n",
    "something-else": "not: [valid yaml",
}

DEV_ROLE = Principal.parse("arn:aws:iam::111122223333:role/team/dev")
BOB = Principal.parse("arn:aws:iam::111122223333:user/bob")


def mapping_for(principal: Principal, *groups: str) -> Mapping:
    return Mapping(principal.kind, principal.mapping_arn, principal.username, groups)


def parsed(value: str) -> list[Any]:
    return yaml.safe_load(value) or []


class TestAdd:
    def test_missing_key_is_created_with_the_bots_line_only(self) -> None:
        after = with_mapping({}, mapping_for(BOB, "devs"))
        assert after == {
            "mapUsers": '- {userarn: "arn:aws:iam::111122223333:user/bob", '
            'username: "eks-access:111122223333:user/bob", groups: ["devs"]}\n'
        }

    @pytest.mark.parametrize("blank", ["", "  \n", '""', "''", "``", "null", "[]"])
    def test_blank_value_becomes_the_bots_line(self, blank: str) -> None:
        after = with_mapping({"mapUsers": blank}, mapping_for(BOB))
        assert after["mapUsers"].count("\n") == 1
        assert parse_mappings(after) == [mapping_for(BOB)]

    def test_block_list_gets_one_line_with_the_same_indentation(self) -> None:
        data = {"mapUsers": "    - userarn: arn:aws:iam::1:user/a\n      username: a"}
        after = with_mapping(data, mapping_for(BOB))
        lines = after["mapUsers"].splitlines()
        assert lines[:2] == data["mapUsers"].splitlines()
        assert lines[2].startswith("    - {userarn: ")
        assert len(lines) == 3

    def test_flow_list_is_reserialised_with_the_same_entries(self) -> None:
        data = {"mapUsers": "[{userarn: 'arn:aws:iam::1:user/a', username: a, groups: [x]}]"}
        after = with_mapping(data, mapping_for(BOB))
        assert parsed(after["mapUsers"]) == [*parsed(data["mapUsers"]), mapping_for(BOB).entry()]

    def test_comments_and_formatting_of_the_edited_key_survive(self) -> None:
        after = with_mapping(CLUSTER, mapping_for(DEV_ROLE, "devs"))
        assert after["mapRoles"].startswith(NODE_ROLES)
        assert after["mapRoles"].count("\n") == NODE_ROLES.count("\n") + 1

    def test_other_keys_are_kept_exactly_even_when_not_yaml(self) -> None:
        after = with_mapping(CLUSTER, mapping_for(DEV_ROLE))
        for key in ("mapUsers", "mapAccounts", "something-else"):
            assert after[key] == CLUSTER[key]
        assert after.keys() == CLUSTER.keys()

    def test_role_with_a_path_is_mapped_without_it(self) -> None:
        after = with_mapping(CLUSTER, mapping_for(DEV_ROLE))
        mapping = find_mapping(after, "arn:aws:iam::111122223333:role/dev")
        assert mapping == Mapping("role", DEV_ROLE.mapping_arn, DEV_ROLE.username)

    def test_is_idempotent(self) -> None:
        once = with_mapping(CLUSTER, mapping_for(DEV_ROLE, "devs"))
        twice = with_mapping(once, mapping_for(DEV_ROLE, "devs"))
        assert twice == once
        assert twice is not once

    def test_replaces_the_bots_own_entry_for_the_same_arn(self) -> None:
        once = with_mapping(CLUSTER, mapping_for(DEV_ROLE, "devs"))
        other = Mapping("role", DEV_ROLE.mapping_arn.upper(), DEV_ROLE.username, ("admins",))
        replaced = with_mapping(once, other)
        assert owned_mappings(replaced) == [other]
        assert replaced["mapRoles"] == NODE_ROLES + (
            '- {rolearn: "ARN:AWS:IAM::111122223333:ROLE/DEV", '
            'username: "eks-access:111122223333:role/dev", groups: ["admins"]}\n'
        )

    def test_replaces_an_own_entry_a_person_reformatted(self) -> None:
        data = {"mapUsers": f"- userarn: {BOB.arn}\n  username: {BOB.username}\n  groups: [x]\n"}
        after = with_mapping(data, mapping_for(BOB, "y"))
        assert owned_mappings(after) == [mapping_for(BOB, "y")]

    def test_refuses_an_arn_that_has_a_foreign_entry(self) -> None:
        ops = Mapping(
            "role", "arn:aws:iam::111122223333:role/OPS", "eks-access:111122223333:role/OPS"
        )
        with pytest.raises(ValueError, match="did not create"):
            with_mapping(CLUSTER, ops)

    def test_refuses_a_foreign_entry_in_the_other_list(self) -> None:
        as_user = Mapping(
            "user", "arn:aws:iam::111122223333:role/ops", "eks-access:111122223333:role/ops"
        )
        with pytest.raises(ValueError):
            with_mapping(CLUSTER, as_user)

    def test_refuses_to_write_an_entry_it_would_not_own(self) -> None:
        with pytest.raises(ValueError, match="eks-access:"):
            with_mapping(CLUSTER, Mapping("user", BOB.arn, "bob"))
        with pytest.raises(ValueError, match="eks-access:"):  # the prefix alone is not enough
            with_mapping(CLUSTER, Mapping("user", BOB.arn, "eks-access:bot"))

    def test_an_admin_entry_with_the_prefix_is_foreign(self) -> None:
        # e.g. the bot's own IAM role, mapped by an administrator: reconcile must never drop it
        data = {
            "mapRoles": '- rolearn: "arn:aws:iam::111122223333:role/bot"\n'
            '  username: "eks-access:bot"\n  groups: [eks-access:bots]\n'
        }
        assert owned_mappings(data) == []
        assert without_mapping(data, "arn:aws:iam::111122223333:role/bot") == data

    def test_keeps_crlf_line_endings(self) -> None:
        data = {"mapUsers": "- userarn: a\r\n  username: a\r\n"}
        after = with_mapping(data, mapping_for(BOB))
        assert after["mapUsers"].startswith(data["mapUsers"])
        assert after["mapUsers"].endswith("]}\r\n")

    def test_unusual_characters_are_quoted_so_they_read_back(self) -> None:
        odd = Mapping("user", BOB.arn, BOB.username, ("ü", "😀", "a\\b", '"quoted" #not-a-comment'))
        assert find_mapping(with_mapping({}, odd), BOB.arn) == odd


class TestReserialising:
    """Layouts the line edits cannot handle: the list is rewritten from its parsed nodes."""

    def test_keeps_each_scalars_spelling_and_quoting(self) -> None:
        # go-yaml v2 reads a plain y as true and 1:30 as text; PyYAML reads "y" and 90.
        data = {"mapUsers": '[{userarn: a, username: y, groups: [n, "y", 1:30, 0123]}]'}
        after = with_mapping(data, mapping_for(BOB))["mapUsers"]
        assert after.splitlines()[:3] == ["- userarn: a", "  username: y", "  groups:"]
        assert after.splitlines()[3:7] == ["  - n", '  - "y"', "  - 1:30", "  - 0123"]

    def test_keeps_anchors_and_aliases(self) -> None:
        data = {"mapUsers": "[&a {userarn: a, username: a}, *a]"}
        after = with_mapping(data, mapping_for(BOB))
        assert parsed(after["mapUsers"])[:2] == parsed(data["mapUsers"])

    def test_after_a_document_end_marker(self) -> None:
        data = {"mapUsers": "- userarn: a\n  username: a\n...\n"}
        after = with_mapping(data, mapping_for(BOB))
        assert parsed(after["mapUsers"]) == [
            {"userarn": "a", "username": "a"},
            mapping_for(BOB).entry(),
        ]

    def test_a_rewrite_that_does_not_read_back_is_refused(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from bot.domain import aws_auth_text

        monkeypatch.setattr(aws_auth_text, "_rendered", lambda nodes, own=None: "- oops\n")
        with pytest.raises(AwsAuthUnsafeEdit, match="does not read back"):
            with_mapping({"mapUsers": "[{userarn: a, username: a}]"}, mapping_for(BOB))


class TestRemove:
    def test_removes_only_the_bots_line(self) -> None:
        added = with_mapping(CLUSTER, mapping_for(DEV_ROLE))
        assert without_mapping(added, DEV_ROLE.mapping_arn) == CLUSTER

    def test_is_case_insensitive_and_idempotent(self) -> None:
        added = with_mapping(CLUSTER, mapping_for(BOB))
        removed = without_mapping(added, BOB.arn.upper())
        assert removed == CLUSTER
        assert without_mapping(removed, BOB.arn) == CLUSTER

    def test_never_removes_a_foreign_entry(self) -> None:
        arn = "arn:aws:iam::111122223333:role/ops"
        assert without_mapping(CLUSTER, arn) == CLUSTER
        assert find_mapping(CLUSTER, arn) is not None

    def test_removes_own_entry_but_keeps_a_foreign_one_for_the_same_arn(self) -> None:
        arn = "arn:aws:iam::111122223333:role/ops"
        own_line = (
            f'- {{rolearn: "{arn}", username: "eks-access:111122223333:role/ops", groups: []}}\n'
        )
        data = {"mapRoles": NODE_ROLES + own_line}
        after = without_mapping(data, arn)
        assert after["mapRoles"] == NODE_ROLES
        assert find_mapping(after, arn) == Mapping("role", arn, "ops", ("ops",))

    def test_removes_an_own_entry_in_another_format_by_reserialising(self) -> None:
        data = {
            "mapUsers": "- userarn: arn:aws:iam::1:user/a  # keep me\n  username: a\n"
            f"- userarn: {BOB.arn}\n  username: {BOB.username}\n  groups: []\n"
        }
        after = without_mapping(data, BOB.arn)
        assert parsed(after["mapUsers"]) == [{"userarn": "arn:aws:iam::1:user/a", "username": "a"}]

    def test_removing_the_last_entry_leaves_an_empty_list(self) -> None:
        after = without_mapping(with_mapping({}, mapping_for(BOB)), BOB.arn)
        assert after == {"mapUsers": ""}
        assert parse_mappings(after) == []


class TestRead:
    def test_parse_returns_arn_entries_only(self) -> None:
        assert parse_mappings(CLUSTER) == [
            Mapping(
                "role",
                "arn:aws:iam::111122223333:role/eks-nodes",
                "system:node:{{EC2PrivateDNSName}}",
                ("system:bootstrappers", "system:nodes"),
            ),
            Mapping("role", "arn:aws:iam::111122223333:role/ops", "ops", ("ops",)),
            Mapping("user", "arn:aws:iam::111122223333:user/alice", "alice"),
        ]
        assert owned_mappings(CLUSTER) == []

    def test_find_is_case_insensitive_and_looks_at_roles_first(self) -> None:
        arn = "arn:aws:iam::111122223333:role/ops"
        data = {**CLUSTER, "mapUsers": f"- userarn: {arn}\n  username: as-user\n"}
        found = find_mapping(data, arn.upper())
        assert found is not None
        assert (found.kind, found.username, found.owned) == ("role", "ops", False)
        assert find_mapping(data, "arn:aws:iam::111122223333:role/nobody") is None

    def test_find_returns_the_last_of_duplicate_entries_like_the_authenticator(self) -> None:
        data = {"mapUsers": "- {userarn: a, username: first}\n- {userarn: A, username: last}\n"}
        found = find_mapping(data, "a")
        assert found is not None and found.username == "last"

    @pytest.mark.parametrize("operation", ["parse", "add", "remove"])
    def test_invalid_yaml_in_map_roles_is_refused_with_a_readable_message(
        self, operation: str
    ) -> None:
        data = {**CLUSTER, "mapRoles": NODE_ROLES + "- rolearn: [unclosed\n"}
        with pytest.raises(AwsAuthUnreadable) as raised:
            if operation == "parse":
                parse_mappings(data)
            elif operation == "add":
                with_mapping(data, mapping_for(BOB))
            else:
                without_mapping(data, BOB.arn)
        message = str(raised.value)
        assert "mapRoles" in message and "not valid YAML" in message and "line" in message
        assert isinstance(raised.value, PermanentError)

    @pytest.mark.parametrize(
        ("value", "what"),
        [("rolearn: x\nusername: y\n", "mapping"), ("just some text", "text"), ("42", "int")],
    )
    def test_map_roles_that_is_not_a_list_is_refused(self, value: str, what: str) -> None:
        with pytest.raises(AwsAuthUnreadable, match=what):
            with_mapping({"mapRoles": value}, mapping_for(BOB))

    def test_several_yaml_documents_are_refused(self) -> None:
        with pytest.raises(AwsAuthUnreadable):
            parse_mappings({"mapUsers": "- {userarn: a}\n---\n- {userarn: b}\n"})


class TestVerifySafeEdit:
    def test_accepts_the_bots_own_edits(self) -> None:
        verify_safe_edit(CLUSTER, with_mapping(CLUSTER, mapping_for(DEV_ROLE)))

    def test_catches_a_dropped_foreign_entry(self) -> None:
        after = {**CLUSTER, "mapRoles": NODE_ROLES.split("\n- sso:")[0] + "\n"}
        with pytest.raises(AwsAuthUnsafeEdit, match="mapRoles"):
            verify_safe_edit(CLUSTER, after)

    def test_catches_a_changed_foreign_entry_even_by_type_only(self) -> None:
        before = {"mapUsers": "- {userarn: a, username: a, groups: [1]}\n"}
        after = {"mapUsers": "- {userarn: a, username: a, groups: [true]}\n"}
        with pytest.raises(AwsAuthUnsafeEdit):
            verify_safe_edit(before, after)

    def test_catches_reordered_foreign_entries(self) -> None:
        before = {"mapUsers": "- {userarn: a}\n- {userarn: b}\n"}
        with pytest.raises(AwsAuthUnsafeEdit):
            verify_safe_edit(before, {"mapUsers": "- {userarn: b}\n- {userarn: a}\n"})

    @pytest.mark.parametrize("key", ["mapAccounts", "something-else"])
    def test_catches_a_changed_untouched_key(self, key: str) -> None:
        with pytest.raises(AwsAuthUnsafeEdit, match=key):
            verify_safe_edit(CLUSTER, {**CLUSTER, key: CLUSTER[key] + " "})
        dropped = {k: v for k, v in CLUSTER.items() if k != key}
        with pytest.raises(AwsAuthUnsafeEdit, match=key):
            verify_safe_edit(CLUSTER, dropped)

    def test_catches_a_result_that_does_not_parse(self) -> None:
        with pytest.raises(AwsAuthUnsafeEdit, match="would not parse"):
            verify_safe_edit(CLUSTER, {**CLUSTER, "mapUsers": "- {userarn: [\n"})

    def test_allows_formatting_changes_of_foreign_entries(self) -> None:
        before = {"mapUsers": "- userarn: a   # comment\n  username: a\n"}
        verify_safe_edit(before, {"mapUsers": '[{"username": "a", "userarn": "a"}]'})

    def test_more_than_one_mebibyte_is_refused(self) -> None:
        filler = "x" * (MAX_DATA_BYTES - len("filler") - 100)
        data = {"filler": filler}
        verify_safe_edit(data, data)
        with pytest.raises(AwsAuthUnsafeEdit, match="1 MiB"):
            with_mapping(data, mapping_for(BOB))
        assert len(with_mapping({"filler": filler[:-200]}, mapping_for(BOB))) == 2

    def test_size_counts_utf8_bytes(self) -> None:
        data = {"filler": "é" * (MAX_DATA_BYTES // 2)}
        with pytest.raises(AwsAuthUnsafeEdit, match="1 MiB"):
            verify_safe_edit(data, data)
