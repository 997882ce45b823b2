"""The EKS emulator, driven by real boto3 `eks` clients over HTTP, against the rules of EKS."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.support.aws import MotoServer
from tests.support.eks_emulator import EksEmulator, moto_account_of
from tests.support.eks_model import DEFAULT_CA_PEM

REGION, ACCOUNT, OTHER_ACCOUNT = "eu-west-1", "123456789012", "210987654321"
ROLE = "arn:aws:iam::123456789012:role/teams/dev"  # a path: "/" travels as %2F
USER = "arn:aws:iam::123456789012:user/alice"
VIEW = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
ADMIN = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminPolicy"
IN_CONFIG_MAP_MODE = (
    "The cluster's authentication mode must be set to one of [API, API_AND_CONFIG_MAP] "
    "to perform this operation."
)


@pytest.fixture
def emulator(fresh_eks: EksEmulator) -> EksEmulator:
    fresh_eks.add_cluster("team-a", region=REGION, account=ACCOUNT)
    return fresh_eks


@pytest.fixture
def eks(moto_server: MotoServer, emulator: EksEmulator) -> Any:
    """A client with moto's default keys; moto_server also keeps the machine's AWS config out."""
    return moto_server.session().client("eks", endpoint_url=emulator.url)


def error_of(call: Callable[..., Any], **kwargs: Any) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    response: Any = caught.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )


def test_describe_cluster_has_the_access_config_moto_lacks(eks: Any) -> None:
    cluster = eks.describe_cluster(name="team-a")["cluster"]

    assert cluster["arn"] == "arn:aws:eks:eu-west-1:123456789012:cluster/team-a"
    assert cluster["status"] == "ACTIVE"
    assert cluster["endpoint"] == "https://127.0.0.1:1"
    assert base64.b64decode(cluster["certificateAuthority"]["data"]).decode() == DEFAULT_CA_PEM
    assert cluster["accessConfig"] == {
        "authenticationMode": "API_AND_CONFIG_MAP",
        "bootstrapClusterCreatorAdminPermissions": False,
    }


def test_an_unknown_cluster_is_not_found(eks: Any) -> None:
    code, status, _ = error_of(eks.describe_cluster, name="nope")
    assert (code, status) == ("ResourceNotFoundException", 404)
    code, status, _ = error_of(eks.list_access_entries, clusterName="nope")
    assert (code, status) == ("ResourceNotFoundException", 404)


def test_an_entry_is_created_described_updated_and_deleted(eks: Any, emulator: EksEmulator) -> None:
    created = eks.create_access_entry(
        clusterName="team-a", principalArn=ROLE, kubernetesGroups=["devs"], tags={"by": "bot"}
    )["accessEntry"]

    assert created["type"] == "STANDARD"
    assert created["kubernetesGroups"] == ["devs"]
    assert created["tags"] == {"by": "bot"}
    prefix = "arn:aws:eks:eu-west-1:123456789012:access-entry/team-a/role/123456789012/dev/"
    assert created["accessEntryArn"].startswith(prefix)
    assert eks.describe_access_entry(clusterName="team-a", principalArn=ROLE)["accessEntry"] == (
        created
    )
    assert emulator.entries("team-a")[ROLE].kubernetes_groups == ["devs"]

    updated = eks.update_access_entry(
        clusterName="team-a", principalArn=ROLE, kubernetesGroups=["ops"], username="u:x"
    )["accessEntry"]
    assert (updated["kubernetesGroups"], updated["username"]) == (["ops"], "u:x")

    eks.delete_access_entry(clusterName="team-a", principalArn=ROLE)
    assert emulator.entries("team-a") == {}


def test_timestamps_come_back_as_the_emulators_clock_read(moto_server: MotoServer) -> None:
    with EksEmulator(account_of=moto_account_of, clock=lambda: 1_780_000_000.5) as emulator:
        emulator.add_cluster("team-a", region=REGION, account=ACCOUNT)
        eks = moto_server.session().client("eks", endpoint_url=emulator.url)
        entry = eks.create_access_entry(clusterName="team-a", principalArn=USER)["accessEntry"]

    at = datetime.fromtimestamp(1_780_000_000.5, UTC)
    assert entry["createdAt"] == entry["modifiedAt"] == at


@pytest.mark.parametrize(
    ("principal", "username"),
    [
        (USER, USER),
        (ROLE, "arn:aws:sts::123456789012:assumed-role/dev/{{SessionName}}"),
        (
            "arn:aws:iam::210987654321:role/a/b/ops",  # cross-account principals are allowed
            "arn:aws:sts::210987654321:assumed-role/ops/{{SessionName}}",
        ),
    ],
)
def test_the_default_username_names_the_user_or_the_role_without_its_path(
    eks: Any, principal: str, username: str
) -> None:
    created = eks.create_access_entry(clusterName="team-a", principalArn=principal)
    described = eks.describe_access_entry(clusterName="team-a", principalArn=principal)

    assert created["accessEntry"]["username"] == username
    assert described["accessEntry"]["username"] == username


@pytest.mark.parametrize(
    "username",
    [
        "system:admin",
        "eks:x",
        "aws:x",
        "amazon:x",
        "iam:x",
        "{{SessionName}}",
        "a{{SessionNameRaw}}",
    ],
)
def test_reserved_and_colonless_session_usernames_are_invalid(eks: Any, username: str) -> None:
    code, status, _ = error_of(
        eks.create_access_entry, clusterName="team-a", principalArn=ROLE, username=username
    )
    assert (code, status) == ("InvalidParameterException", 400)

    eks.create_access_entry(clusterName="team-a", principalArn=USER)
    code, _, _ = error_of(
        eks.update_access_entry, clusterName="team-a", principalArn=USER, username=username
    )
    assert code == "InvalidParameterException"


def test_a_session_name_after_a_colon_is_a_valid_username(eks: Any) -> None:
    entry = eks.create_access_entry(
        clusterName="team-a", principalArn=ROLE, username="jit:alice:{{SessionName}}"
    )["accessEntry"]
    assert entry["username"] == "jit:alice:{{SessionName}}"


def test_a_second_entry_for_a_principal_is_in_use(eks: Any) -> None:
    eks.create_access_entry(clusterName="team-a", principalArn=ROLE)

    code, status, message = error_of(
        eks.create_access_entry, clusterName="team-a", principalArn=ROLE
    )
    assert (code, status) == ("ResourceInUseException", 409)
    assert message == "The specified access entry resource is already in use on this cluster."


@pytest.mark.parametrize(
    "principal",
    [
        "arn:aws:sts::123456789012:assumed-role/dev/alice",  # a session, not the role
        "arn:aws:iam::123456789012:group/devs",
        "arn:aws:iam::123456789012:root",
        "dev",
    ],
)
def test_only_iam_users_and_roles_may_have_entries(eks: Any, principal: str) -> None:
    code, status, _ = error_of(
        eks.create_access_entry, clusterName="team-a", principalArn=principal
    )
    assert (code, status) == ("InvalidParameterException", 400)


def test_an_unknown_entry_is_not_found(eks: Any) -> None:
    calls: list[tuple[Callable[..., Any], dict[str, Any]]] = [
        (eks.describe_access_entry, {}),
        (eks.update_access_entry, {"kubernetesGroups": []}),
        (eks.delete_access_entry, {}),
        (eks.list_associated_access_policies, {}),
        (eks.associate_access_policy, {"policyArn": VIEW, "accessScope": {"type": "cluster"}}),
        (eks.disassociate_access_policy, {"policyArn": VIEW}),
    ]
    for call, extra in calls:
        code, status, _ = error_of(call, clusterName="team-a", principalArn=ROLE, **extra)
        assert (code, status) == ("ResourceNotFoundException", 404), call


def test_every_access_entry_call_is_refused_in_config_map_mode(
    eks: Any, emulator: EksEmulator
) -> None:
    eks.create_access_entry(clusterName="team-a", principalArn=ROLE)
    emulator.set_mode("team-a", "CONFIG_MAP")
    on_entry = {"clusterName": "team-a", "principalArn": ROLE}
    calls: list[tuple[Callable[..., Any], dict[str, Any]]] = [
        (eks.create_access_entry, {"clusterName": "team-a", "principalArn": USER}),
        (eks.list_access_entries, {"clusterName": "team-a"}),
        (eks.describe_access_entry, on_entry),
        (eks.update_access_entry, {**on_entry, "kubernetesGroups": []}),
        (eks.delete_access_entry, on_entry),
        (
            eks.associate_access_policy,
            {**on_entry, "policyArn": VIEW, "accessScope": {"type": "cluster"}},
        ),
        (eks.disassociate_access_policy, {**on_entry, "policyArn": VIEW}),
        (eks.list_associated_access_policies, on_entry),
    ]
    for call, kwargs in calls:
        assert error_of(call, **kwargs) == ("InvalidRequestException", 400, IN_CONFIG_MAP_MODE)
    mode = eks.describe_cluster(name="team-a")["cluster"]["accessConfig"]["authenticationMode"]
    assert mode == "CONFIG_MAP"


def test_access_entries_are_listed_in_pages(eks: Any) -> None:
    roles = [f"arn:aws:iam::123456789012:role/r{i}" for i in range(5)]
    for role in roles:
        eks.create_access_entry(clusterName="team-a", principalArn=role)

    first = eks.list_access_entries(clusterName="team-a", maxResults=2)
    second = eks.list_access_entries(
        clusterName="team-a", maxResults=2, nextToken=first["nextToken"]
    )
    pages = eks.get_paginator("list_access_entries").paginate(
        clusterName="team-a", PaginationConfig={"PageSize": 2}
    )

    assert first["accessEntries"] == roles[:2]
    assert second["accessEntries"] == roles[2:4]
    assert [page["accessEntries"] for page in pages] == [roles[:2], roles[2:4], roles[4:]]
    assert "nextToken" not in eks.list_access_entries(clusterName="team-a")
    code, _, _ = error_of(eks.list_access_entries, clusterName="team-a", maxResults=101)
    assert code == "InvalidParameterException"


def test_policies_are_associated_replaced_listed_and_disassociated(eks: Any) -> None:
    eks.create_access_entry(clusterName="team-a", principalArn=ROLE)
    eks.create_access_entry(clusterName="team-a", principalArn=USER)
    on_role = {"clusterName": "team-a", "principalArn": ROLE}

    eks.associate_access_policy(**on_role, policyArn=VIEW, accessScope={"type": "cluster"})
    again = eks.associate_access_policy(
        **on_role, policyArn=VIEW, accessScope={"type": "namespace", "namespaces": ["dev"]}
    )
    eks.associate_access_policy(**on_role, policyArn=ADMIN, accessScope={"type": "cluster"})

    assert again["associatedAccessPolicy"]["accessScope"] == {
        "type": "namespace",
        "namespaces": ["dev"],
    }
    listed = eks.list_associated_access_policies(**on_role)["associatedAccessPolicies"]
    assert {(a["policyArn"], a["accessScope"]["type"]) for a in listed} == {
        (VIEW, "namespace"),
        (ADMIN, "cluster"),
    }
    by_policy = eks.list_access_entries(clusterName="team-a", associatedPolicyArn=VIEW)
    assert by_policy["accessEntries"] == [ROLE]

    eks.disassociate_access_policy(**on_role, policyArn=ADMIN)
    listed = eks.list_associated_access_policies(**on_role)["associatedAccessPolicies"]
    assert [a["policyArn"] for a in listed] == [VIEW]
    code, status, _ = error_of(eks.disassociate_access_policy, **on_role, policyArn=ADMIN)
    assert (code, status) == ("ResourceNotFoundException", 404)


def test_a_namespace_scope_needs_namespaces(eks: Any) -> None:
    eks.create_access_entry(clusterName="team-a", principalArn=ROLE)

    code, status, _ = error_of(
        eks.associate_access_policy,
        clusterName="team-a",
        principalArn=ROLE,
        policyArn=VIEW,
        accessScope={"type": "namespace"},
    )
    assert (code, status) == ("InvalidParameterException", 400)


def test_deleting_an_entry_deletes_its_associations(eks: Any) -> None:
    on_role = {"clusterName": "team-a", "principalArn": ROLE}
    eks.create_access_entry(**on_role)
    eks.associate_access_policy(**on_role, policyArn=VIEW, accessScope={"type": "cluster"})

    eks.delete_access_entry(**on_role)
    eks.create_access_entry(**on_role)

    assert eks.list_associated_access_policies(**on_role)["associatedAccessPolicies"] == []


def test_the_predefined_access_policies_are_listed(eks: Any) -> None:
    pages = eks.get_paginator("list_access_policies").paginate(PaginationConfig={"PageSize": 2})
    policies = [p for page in pages for p in page["accessPolicies"]]

    names = {p["name"] for p in policies}
    assert names >= {
        "AmazonEKSViewPolicy",
        "AmazonEKSEditPolicy",
        "AmazonEKSAdminPolicy",
        "AmazonEKSClusterAdminPolicy",
        "AmazonEKSAdminViewPolicy",
    }
    assert all(p["arn"] == f"arn:aws:eks::aws:cluster-access-policy/{p['name']}" for p in policies)


def test_an_entrys_tags_are_listed_added_and_removed(eks: Any) -> None:
    arn = eks.create_access_entry(clusterName="team-a", principalArn=ROLE, tags={"a": "1"})[
        "accessEntry"
    ]["accessEntryArn"]

    eks.tag_resource(resourceArn=arn, tags={"b": "2"})
    eks.untag_resource(resourceArn=arn, tagKeys=["a"])

    assert eks.list_tags_for_resource(resourceArn=arn)["tags"] == {"b": "2"}
    code, status, _ = error_of(eks.list_tags_for_resource, resourceArn=arn + "x")
    assert (code, status) == ("NotFoundException", 404)


def test_a_cluster_is_seen_only_from_its_own_account_and_region(
    fresh_moto: MotoServer, emulator: EksEmulator
) -> None:
    """As in AWS: a cluster's name is looked up in the caller's account and signing region."""
    sts = fresh_moto.client("sts")
    credentials = sts.assume_role(
        RoleArn=f"arn:aws:iam::{OTHER_ACCOUNT}:role/eks-access", RoleSessionName="bot"
    )["Credentials"]
    other = boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=REGION,
    ).client("eks", endpoint_url=emulator.url)
    elsewhere = fresh_moto.session().client(
        "eks", endpoint_url=emulator.url, region_name="us-east-1"
    )

    assert error_of(other.describe_cluster, name="team-a")[0] == "ResourceNotFoundException"
    assert error_of(elsewhere.describe_cluster, name="team-a")[0] == "ResourceNotFoundException"
    emulator.add_cluster("team-a", region=REGION, account=OTHER_ACCOUNT)
    assert other.describe_cluster(name="team-a")["cluster"]["arn"].split(":")[4] == OTHER_ACCOUNT

    assert [(c.access_key, c.account) for c in emulator.calls] == [
        (credentials["AccessKeyId"], OTHER_ACCOUNT),
        ("testing", ACCOUNT),
        (credentials["AccessKeyId"], OTHER_ACCOUNT),
    ]
    assert [c.region for c in emulator.calls] == [REGION, "us-east-1", REGION]


def test_every_call_is_recorded_with_its_caller(eks: Any, emulator: EksEmulator) -> None:
    eks.create_access_entry(clusterName="team-a", principalArn=ROLE)
    error_of(eks.describe_access_entry, clusterName="team-a", principalArn=USER)
    eks.list_access_policies()

    assert [(c.operation, c.cluster, c.principal_arn) for c in emulator.calls] == [
        ("CreateAccessEntry", "team-a", ROLE),
        ("DescribeAccessEntry", "team-a", USER),
        ("ListAccessPolicies", None, None),
    ]
    assert {(c.access_key, c.account, c.region) for c in emulator.calls} == {
        ("testing", ACCOUNT, REGION)
    }


def test_an_unsigned_request_is_refused(emulator: EksEmulator) -> None:
    unsigned = boto3.Session(region_name=REGION).client(
        "eks", endpoint_url=emulator.url, config=Config(signature_version=UNSIGNED)
    )
    code, status, _ = error_of(unsigned.describe_cluster, name="team-a")
    assert (code, status) == ("MissingAuthenticationTokenException", 403)


def test_a_child_process_finds_it_through_the_environment(
    moto_server: MotoServer, emulator: EksEmulator
) -> None:
    script = "import boto3; print(boto3.client('eks').describe_cluster(name='team-a')['cluster']['status'])"
    out = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, **emulator.environ()},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stdout.strip() == "ACTIVE"
