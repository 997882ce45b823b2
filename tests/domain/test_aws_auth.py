"""The aws-auth editor: only the bot's own entries change, everything else stays as it was."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from bot.domain.aws_auth import (
    MAX_DATA_BYTES,
    AwsAuthAmbiguous,
    AwsAuthUnreadable,
    AwsAuthUnsafeEdit,
    Mapping,
    find_mapping,
    owned_mappings,
    parse_mappings,
    resolve,
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

    def test_find_returns_the_last_of_exact_duplicates_like_the_authenticator(self) -> None:
        data = {"mapUsers": "- {userarn: a, username: first}\n- {userarn: a, username: last}\n"}
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
                with_mapping(data, mapping_for(DEV_ROLE))
            else:
                without_mapping(data, DEV_ROLE.mapping_arn)
        message = str(raised.value)
        assert "mapRoles" in message and "not valid YAML" in message and "line" in message
        assert isinstance(raised.value, PermanentError)

    @pytest.mark.parametrize(
        ("value", "what"),
        [("rolearn: x\nusername: y\n", "mapping"), ("just some text", "text"), ("42", "int")],
    )
    def test_map_roles_that_is_not_a_list_is_refused(self, value: str, what: str) -> None:
        with pytest.raises(AwsAuthUnreadable, match=what):
            with_mapping({"mapRoles": value}, mapping_for(DEV_ROLE))

    def test_several_yaml_documents_count_only_the_first_but_are_not_edited(self) -> None:
        data = {"mapUsers": "- {userarn: a, username: a}\n---\n- {userarn: b}\n"}
        assert parse_mappings(data) == [Mapping("user", "a", "a")]  # go-yaml reads one document
        with pytest.raises(AwsAuthUnreadable, match="mapUsers"):
            with_mapping(data, mapping_for(BOB))


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


# ---------------------------------------------------------------------------------------------
# The authenticator's reading (REFERENCE §1, corrections of 2026-12-01)

ADMIN = "arn:aws:iam::111122223333:role/admin"
ALICE = "arn:aws:iam::111122223333:user/alice"
NODES = "arn:aws:iam::111122223333:role/eks-nodes"
SSO_ROLE = "arn:aws:iam::111122223333:role/AWSReservedSSO_AdministratorAccess_0123abcd"


def own(principal: Principal, *groups: str) -> Mapping:
    return Mapping(principal.kind, principal.mapping_arn, principal.username, groups)


class TestTheDefect:
    """Foreign entries spelled `roleARN:` / `userARN:` were invisible: the bot added a second
    entry for the same ARN, and the authenticator (last wins) used the bot's."""

    ROLES = f"- roleARN: {NODES}\n  username: system:node:{{{{EC2PrivateDNSName}}}}\n  groups:\n  - system:bootstrappers\n  - system:nodes\n"
    USERS = f"- userARN: {ALICE}\n  UserName: alice\n  Groups: [system:masters]\n"

    @pytest.mark.parametrize(
        ("arn", "kind"), [(NODES, "role"), (ALICE, "user"), (NODES.upper(), "role")]
    )
    def test_with_mapping_refuses_and_nothing_changes(self, arn: str, kind: str) -> None:
        data = {"mapRoles": self.ROLES, "mapUsers": self.USERS}
        principal = Principal.parse(arn.lower())
        with pytest.raises(ValueError, match="did not create"):
            with_mapping(data, Mapping(principal.kind, arn, principal.username))
        assert data == {"mapRoles": self.ROLES, "mapUsers": self.USERS}

    def test_the_foreign_entry_is_what_the_authenticator_uses(self) -> None:
        data = {"mapRoles": self.ROLES, "mapUsers": self.USERS}
        assert find_mapping(data, NODES) == Mapping(
            "role",
            NODES,
            "system:node:{{EC2PrivateDNSName}}",
            ("system:bootstrappers", "system:nodes"),
        )
        assert find_mapping(data, ALICE) == Mapping("user", ALICE, "alice", ("system:masters",))

    def test_verify_refuses_an_entry_that_would_shadow_it(self) -> None:
        before = {"mapRoles": self.ROLES}
        nodes = Principal.parse(NODES)
        after = {
            "mapRoles": self.ROLES
            + f'- {{rolearn: "{NODES}", username: "{nodes.username}", groups: []}}\n'
        }
        with pytest.raises(AwsAuthUnsafeEdit, match=f"map {NODES} to 'eks-access"):
            verify_safe_edit(before, after)


class TestFieldNames:
    @pytest.mark.parametrize(
        "fields",
        [
            ("rolearn", "username", "groups"),
            ("roleARN", "UserName", "Groups"),
            ("RoleArn", "USERNAME", "GROUPS"),
            ("ROLEarn", "uſername", "groups"),  # Go folds LONG S onto s
        ],
    )
    def test_any_letter_case(self, fields: tuple[str, str, str]) -> None:
        arn, user, groups = fields
        data = {"mapRoles": f"- {arn}: {ADMIN}\n  {user}: admin\n  {groups}: [system:masters]\n"}
        assert find_mapping(data, ADMIN) == Mapping("role", ADMIN, "admin", ("system:masters",))

    def test_of_two_spellings_the_one_sorting_last_wins(self) -> None:
        # json.Marshal sorts the keys: "UserName" < "username", so "username" is applied last
        data = {"mapRoles": f"- {{rolearn: {ADMIN}, username: b, UserName: a}}\n"}
        assert find_mapping(data, ADMIN) == Mapping("role", ADMIN, "b")

    def test_own_entry_in_another_spelling_is_still_the_bots(self) -> None:
        bob = f"- userARN: {BOB.arn}\n  UserName: {BOB.username}\n  groups: [x]\n"
        assert owned_mappings({"mapUsers": bob}) == [own(BOB, "x")]
        assert without_mapping({"mapUsers": bob}, BOB.arn) == {"mapUsers": ""}
        assert owned_mappings(with_mapping({"mapUsers": bob}, own(BOB, "y"))) == [own(BOB, "y")]

    @pytest.mark.parametrize("key", ["maproles", "MapRoles", "mapusers"])
    def test_top_level_keys_count_only_spelled_exactly(self, key: str) -> None:
        data = {key: f"- rolearn: {DEV_ROLE.mapping_arn}\n  username: admin\n"}
        assert find_mapping(data, DEV_ROLE.arn) is None
        after = with_mapping(data, own(DEV_ROLE))
        assert after[key] == data[key]  # never written to, never read as the list
        assert find_mapping(after, DEV_ROLE.arn) == own(DEV_ROLE)


class TestMistypedAndMissing:
    def test_a_mistyped_field_keeps_the_entry_with_that_field_empty(self) -> None:
        data = {"mapRoles": f"- rolearn: {ADMIN}\n  username: 5\n  groups: system:masters\n"}
        assert find_mapping(data, ADMIN) == Mapping("role", ADMIN, "")

    def test_list_elements_of_other_types_become_empty_groups(self) -> None:
        data = {"mapRoles": f"- {{rolearn: {ADMIN}, username: a, groups: [5, ops, ~]}}\n"}
        assert find_mapping(data, ADMIN) == Mapping("role", ADMIN, "a", ("", "ops", ""))

    def test_go_yaml_types_not_pythons(self) -> None:
        # go-yaml v2: a plain y is true (so no username), 1:30 and dates are text
        data = {"mapRoles": f"- {{rolearn: {ADMIN}, username: y, groups: [1:30, 2001-12-14]}}\n"}
        assert find_mapping(data, ADMIN) == Mapping("role", ADMIN, "", ("1:30", "2001-12-14"))

    def test_an_entry_without_its_arn_is_skipped_alone(self) -> None:
        data = {
            "mapRoles": f"- username: x\n- rolearn: 5\n- just text\n- rolearn: {ADMIN}\n  username: a\n"
        }
        assert parse_mappings(data) == [Mapping("role", ADMIN, "a")]

    def test_rolearn_and_sso_together_drop_the_entry(self) -> None:
        entry = f"- rolearn: {ADMIN}\n  sso: oops\n  username: a\n"
        assert find_mapping({"mapRoles": entry}, ADMIN) is None

    def test_the_mapaccounts_default_ends_the_lookup(self) -> None:
        data = {"mapAccounts": "- 111122223333\n"}
        assert resolve(data, ADMIN) == Mapping("role", ADMIN, ADMIN)
        assert resolve(data, "arn:aws:iam::444455556666:role/admin") is None
        assert find_mapping(data, ADMIN) is None  # no entry maps it: the bot may add one
        assert find_mapping(with_mapping(data, own(Principal.parse(ADMIN))), ADMIN)


class TestDuplicates:
    def test_roles_are_keyed_by_lower_cased_arn_and_the_last_wins(self) -> None:
        data = {
            "mapRoles": f"- {{rolearn: {ADMIN}, username: first}}\n- {{rolearn: {ADMIN.upper()}, username: last}}\n"
        }
        assert find_mapping(data, ADMIN) == Mapping("role", ADMIN.upper(), "last")

    def test_case_variant_user_arns_are_ambiguous(self) -> None:
        variant = ALICE.replace("alice", "Alice")
        data = {
            "mapUsers": f"- {{userarn: {ALICE}, username: a}}\n- {{userarn: {variant}, username: b}}\n"
        }
        with pytest.raises(AwsAuthAmbiguous) as raised:
            find_mapping(data, ALICE)
        assert ALICE in str(raised.value) and "at random" in str(raised.value)
        assert isinstance(raised.value, PermanentError)
        alice = Principal.parse(ALICE)
        with pytest.raises(AwsAuthAmbiguous):
            with_mapping(data, own(alice))

    def test_case_variants_with_the_same_answer_are_not_ambiguous(self) -> None:
        variant = ALICE.replace("alice", "Alice")
        data = {
            "mapUsers": f"- {{userarn: {ALICE}, username: a}}\n- {{userarn: {variant}, username: a}}\n"
        }
        assert find_mapping(data, ALICE) == Mapping("user", variant, "a")

    def test_the_bot_may_remove_its_entry_from_an_ambiguous_pair(self) -> None:
        alice = Principal.parse(ALICE)
        theirs = f"- {{userarn: {ALICE.replace('alice', 'Alice')}, username: a}}\n"
        data = {
            "mapUsers": theirs
            + f'- {{userarn: "{ALICE}", username: "{alice.username}", groups: []}}\n'
        }
        assert without_mapping(data, ALICE) == {"mapUsers": theirs}

    def test_roles_are_looked_up_before_users(self) -> None:
        data = {
            "mapRoles": f"- {{rolearn: {ALICE}, username: r}}\n",
            "mapUsers": f"- {{userarn: {ALICE}, username: u}}\n",
        }
        assert find_mapping(data, ALICE) == Mapping("role", ALICE, "r")


class TestSso:
    SSO = "- sso:\n    permissionSetName: AdministratorAccess\n    accountID: '111122223333'\n  username: admin:{{SessionName}}\n"

    def test_an_sso_entry_maps_its_permission_set_roles(self) -> None:
        found = find_mapping({"mapRoles": self.SSO}, SSO_ROLE)
        assert found is not None and found.username == "admin:{{SessionName}}"
        assert not found.owned

    def test_an_sso_entry_covering_a_rolearn_entry_is_ambiguous(self) -> None:
        data = {"mapRoles": self.SSO + f"- {{rolearn: {SSO_ROLE}, username: other}}\n"}
        with pytest.raises(AwsAuthAmbiguous, match="sso"):
            find_mapping(data, SSO_ROLE)

    def test_the_bot_does_not_add_an_entry_an_sso_entry_covers(self) -> None:
        role = Principal.parse(SSO_ROLE)
        with pytest.raises(ValueError, match="did not create"):
            with_mapping({"mapRoles": self.SSO}, own(role))
        with pytest.raises(AwsAuthUnsafeEdit, match=SSO_ROLE):
            verify_safe_edit(
                {"mapRoles": self.SSO},
                {
                    "mapRoles": self.SSO
                    + f'- {{rolearn: "{SSO_ROLE}", username: "{role.username}", groups: []}}\n'
                },
            )

    @pytest.mark.parametrize(
        "variant",
        [
            "accountID: 111122223333",  # a number, not text: the entry is invalid
            "accountID: '111122223333'\n    partition: aws",  # an explicit partition never matches
        ],
    )
    def test_sso_entries_that_match_nothing(self, variant: str) -> None:
        entry = (
            f"- sso:\n    permissionSetName: AdministratorAccess\n    {variant}\n  username: a\n"
        )
        assert find_mapping({"mapRoles": entry}, SSO_ROLE) is None
        assert with_mapping({"mapRoles": entry}, own(Principal.parse(SSO_ROLE)))


class TestBrokenLists:
    BROKEN = "- rolearn: [unclosed\n"

    def test_a_broken_list_is_lost_whole_while_the_other_stays(self) -> None:
        data = {"mapRoles": self.BROKEN, "mapUsers": f"- {{userarn: {ALICE}, username: a}}\n"}
        assert find_mapping(data, ALICE) == Mapping("user", ALICE, "a")

    @pytest.mark.parametrize(
        "roles",
        [BROKEN, "- {rolearn: x, username: .inf}\n", "- {rolearn: x, ~: y}\n", "- &a [*a]\n"],
    )
    def test_users_can_still_be_added_and_removed(self, roles: str) -> None:
        data = {"mapRoles": roles, "mapUsers": CLUSTER["mapUsers"]}
        added = with_mapping(data, own(BOB, "devs"))
        assert added["mapRoles"] == roles
        assert find_mapping(added, BOB.arn) == own(BOB, "devs")
        assert without_mapping(added, BOB.arn) == data

    @pytest.mark.parametrize("users", [BROKEN, "just some text"])
    def test_a_role_needs_both_lists_readable(self, users: str) -> None:
        with pytest.raises(AwsAuthUnreadable, match="mapUsers"):
            with_mapping({"mapUsers": users}, own(DEV_ROLE))
        assert without_mapping({"mapUsers": users}, DEV_ROLE.arn) == {"mapUsers": users}

    def test_a_list_libyaml_reads_but_the_authenticator_does_not_is_never_written(self) -> None:
        data = {"mapUsers": "- {userarn: x, username: .nan}\n"}
        with pytest.raises(AwsAuthUnreadable, match="JSON"):
            with_mapping(data, own(BOB))
        with pytest.raises(AwsAuthUnreadable):
            without_mapping(data, BOB.arn)

    def test_a_list_only_the_authenticator_reads_is_never_written(self) -> None:
        data = {"mapUsers": f"- {{userarn: {ALICE}, username: !custom a}}\n"}
        assert find_mapping(data, ALICE) == Mapping("user", ALICE, "a")
        with pytest.raises(AwsAuthUnreadable, match="edits only"):
            with_mapping(data, own(BOB))
        assert without_mapping(data, BOB.arn) == data  # no entry of the bot's there


class TestOwnEntriesElsewhere:
    def test_adding_removes_the_bots_entries_for_the_arn_from_the_other_list(self) -> None:
        # a role ARN in mapUsers is matched too (after mapRoles): one entry of the bot's only
        stray = f'- {{userarn: "{DEV_ROLE.mapping_arn}", username: "{DEV_ROLE.username}", groups: [old]}}\n'
        data = {"mapRoles": NODE_ROLES, "mapUsers": CLUSTER["mapUsers"] + stray}
        after = with_mapping(data, own(DEV_ROLE, "new"))
        assert after["mapUsers"] == CLUSTER["mapUsers"]
        assert owned_mappings(after) == [own(DEV_ROLE, "new")]
        assert with_mapping(after, own(DEV_ROLE, "new")) == after


class TestSessionUsernames:
    def test_an_entry_with_the_per_session_username_is_the_bots(self) -> None:
        role = Principal.parse("arn:aws:iam::111122223333:role/AWSReservedSSO_Dev_1234")
        shared = Mapping("role", role.mapping_arn, role.session_username, ("devs",))
        added = with_mapping({"mapRoles": NODE_ROLES}, shared)
        assert owned_mappings(added) == [shared]
        assert find_mapping(added, role.arn) == shared
        assert without_mapping(added, role.arn) == {"mapRoles": NODE_ROLES}
        fixed = with_mapping(added, own(role))  # the fixed form replaces the per-session one
        assert owned_mappings(fixed) == [own(role)]


class TestVerifyResolution:
    def test_removing_a_foreign_entry_by_hand_is_caught_even_if_the_text_hides_it(self) -> None:
        before = {"mapRoles": f"- rolearn: {ADMIN}\n  username: admin\n"}
        after = {"mapRoles": f"- rolearn: {ADMIN}\n  username: admin\n  sso: x\n"}
        with pytest.raises(AwsAuthUnsafeEdit):
            verify_safe_edit(before, after)

    def test_the_mapaccounts_default_counts(self) -> None:
        # a foreign entry for ADMIN goes; ADMIN would fall back to the mapAccounts default
        before = {
            "mapAccounts": "- '111122223333'\n",
            "mapUsers": f"- {{userarn: {ADMIN}, username: a}}\n",
        }
        with pytest.raises(AwsAuthUnsafeEdit, match=ADMIN):
            verify_safe_edit(before, {**before, "mapUsers": ""})

    def test_dropping_the_bots_shadowing_entry_is_allowed(self) -> None:
        theirs = f"- {{rolearn: {ADMIN}, username: admin}}\n"
        ours = f'- {{rolearn: "{ADMIN}", username: "eks-access:111122223333:role/admin", groups: []}}\n'
        verify_safe_edit({"mapRoles": theirs + ours}, {"mapRoles": theirs})
        with pytest.raises(AwsAuthUnsafeEdit):
            verify_safe_edit({"mapRoles": theirs}, {"mapRoles": theirs + ours})
