"""The bot's access entries, through real boto3 calls to the EKS emulator on loopback."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from bot.adapters.aws.access_entries import AccessEntryMapper
from bot.domain.errors import PermanentError
from bot.domain.grants import MappedIdentity, MappedVia
from bot.domain.principals import Identity
from tests.support.aws import MotoServer
from tests.support.eks_emulator import EksEmulator

REGION, ACCOUNT = "eu-west-1", "123456789012"
SSO = f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_EKSUsers_abc"
ALICE = Identity.parse(SSO, "alice@example.com")
BOB = Identity.parse(SSO, "bob@example.com")
USER = Identity.parse(f"arn:aws:iam::{ACCOUNT}:user/carol")
ADMIN_ROLE = Identity.parse(f"arn:aws:iam::{ACCOUNT}:role/platform-admin")
OWNED = {"managed-by": "eks-access"}


@pytest.fixture
def emulator(fresh_eks: EksEmulator, moto_server: MotoServer) -> EksEmulator:
    fresh_eks.add_cluster("dev", region=REGION, account=ACCOUNT)
    return fresh_eks


@pytest.fixture
def eks(emulator: EksEmulator, moto_server: MotoServer) -> Any:
    return moto_server.session().client("eks", endpoint_url=emulator.url)


@pytest.fixture
def mapper(eks: Any) -> AccessEntryMapper:
    return AccessEntryMapper(eks, "dev")


def created(emulator: EksEmulator) -> list[str]:
    return [c.principal_arn or "" for c in emulator.calls if c.operation == "CreateAccessEntry"]


def test_the_bot_creates_one_tagged_entry_per_principal_shared_by_every_session(
    mapper: AccessEntryMapper, emulator: EksEmulator
) -> None:
    assert mapper.ensure(ALICE).username == ALICE.owned_username
    assert mapper.ensure(BOB).username == BOB.owned_username
    assert mapper.ensure(ALICE).username == ALICE.owned_username  # idempotent: describe, no create
    assert mapper.ensure(ALICE).via is MappedVia.ACCESS_ENTRY

    entry = emulator.entries("dev")[SSO]
    assert (
        entry.username == "eks-access:123456789012:role/AWSReservedSSO_EKSUsers_abc:{{SessionName}}"
    )
    assert (entry.type, entry.tags, entry.kubernetes_groups, entry.policies) == (
        "STANDARD",
        OWNED,
        [],
        {},
    )
    assert created(emulator) == [SSO]
    assert ALICE.owned_username.endswith(":alice-example.com")
    assert mapper.owned_arns() == {SSO}


def test_a_foreign_entry_is_left_exactly_as_it_is_and_its_username_bound(
    mapper: AccessEntryMapper, eks: Any, emulator: EksEmulator
) -> None:
    eks.create_access_entry(
        clusterName="dev", principalArn=SSO, username="sso:{{SessionName}}", kubernetesGroups=["x"]
    )
    eks.create_access_entry(clusterName="dev", principalArn=USER.principal.arn)
    before = emulator.entries("dev")

    assert mapper.ensure(ALICE) == MappedIdentity("sso:alice-example.com", MappedVia.EXISTING)
    assert mapper.ensure(USER).username == USER.principal.arn  # EKS's default username for a user
    mapper.remove(ALICE.principal)
    mapper.remove(USER.principal)

    assert emulator.entries("dev") == before
    assert created(emulator) == [SSO, USER.principal.arn]  # the test's own two, none of ours
    assert mapper.owned_arns() == set()
    ops = {c.operation for c in emulator.calls} - {"CreateAccessEntry"}
    assert ops <= {"DescribeAccessEntry", "ListAccessEntries"}


def test_a_foreign_role_entry_with_eks_s_default_username_is_rendered_per_session(
    mapper: AccessEntryMapper, eks: Any
) -> None:
    eks.create_access_entry(clusterName="dev", principalArn=SSO)
    assert mapper.ensure(ALICE).username == (
        "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_EKSUsers_abc/alice-example.com"
    )


@pytest.mark.parametrize(
    ("username", "who", "sentence"),
    [
        ("platform:admins", ALICE, "for every session of the role"),
        ("admin:{{SessionName}}", Identity.parse(SSO), "add `session:`"),
        ("node:{{EC2PrivateDNSName}}", ALICE, "needs {{EC2PrivateDNSName}}"),
    ],
)
def test_a_foreign_username_that_cannot_name_one_person_is_refused(
    mapper: AccessEntryMapper, eks: Any, username: str, who: Identity, sentence: str
) -> None:
    eks.create_access_entry(clusterName="dev", principalArn=SSO, username=username)
    with pytest.raises(PermanentError, match=sentence):
        mapper.ensure(who)


def test_an_entry_created_by_someone_else_meanwhile_is_foreign_from_then_on(
    eks: Any, emulator: EksEmulator
) -> None:
    class RacingEks:
        """The real client; an administrator creates the entry right after our first look."""

        def __init__(self) -> None:
            self.meta = eks.meta
            self.raced = False

        def __getattr__(self, name: str) -> Any:
            return getattr(eks, name)

        def describe_access_entry(self, **kw: Any) -> Any:
            try:
                return eks.describe_access_entry(**kw)
            finally:
                if not self.raced:
                    self.raced = True
                    eks.create_access_entry(
                        clusterName="dev", principalArn=SSO, username="theirs:{{SessionName}}"
                    )

    mapper = AccessEntryMapper(RacingEks(), "dev")
    assert mapper.ensure(ALICE).username == "theirs:alice-example.com"
    assert emulator.entries("dev")[SSO].tags == {}
    mapper.remove(ALICE.principal)
    assert SSO in emulator.entries("dev")


def test_remove_deletes_only_the_bot_s_entry_and_absence_is_success(
    mapper: AccessEntryMapper, eks: Any, emulator: EksEmulator
) -> None:
    mapper.ensure(USER)
    eks.create_access_entry(clusterName="dev", principalArn=ADMIN_ROLE.principal.arn)
    mapper.remove(USER.principal)
    mapper.remove(USER.principal)
    assert set(emulator.entries("dev")) == {ADMIN_ROLE.principal.arn}


def test_an_owned_entry_of_the_other_form_is_refused_not_changed(
    mapper: AccessEntryMapper, emulator: EksEmulator
) -> None:
    mapper.ensure(Identity.parse(SSO))  # a grant of the role as a whole
    with pytest.raises(PermanentError, match="either session names or none"):
        mapper.ensure(ALICE)
    assert (
        emulator.entries("dev")[SSO].username
        == "eks-access:123456789012:role/AWSReservedSSO_EKSUsers_abc"
    )


def test_a_cluster_in_config_map_mode_is_refused_with_what_to_do(
    mapper: AccessEntryMapper, emulator: EksEmulator
) -> None:
    emulator.set_mode("dev", "CONFIG_MAP")
    with pytest.raises(PermanentError, match="does not read access entries.*mapping: aws-auth"):
        mapper.ensure(USER)


def test_owned_arns_pages_through_every_entry(
    mapper: AccessEntryMapper, eks: Any, emulator: EksEmulator
) -> None:
    ours = {f"arn:aws:iam::{ACCOUNT}:user/u{n:03d}" for n in range(130)}
    for arn in ours:
        mapper.ensure(Identity.parse(arn))
    eks.create_access_entry(clusterName="dev", principalArn=ADMIN_ROLE.principal.arn)
    assert mapper.owned_arns() == ours


def test_an_unknown_cluster_is_a_permanent_error(eks: Any) -> None:
    with pytest.raises(PermanentError, match="'ghost' in region eu-west-1 was not found"):
        AccessEntryMapper(eks, "ghost").ensure(USER)


def test_the_default_boto3_client_reaches_the_emulator_through_the_environment(
    emulator: EksEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_EKS", emulator.url)
    mapper = AccessEntryMapper(boto3.Session().client("eks", region_name=REGION), "dev")
    assert mapper.ensure(USER).username == USER.owned_username
