"""The EKS authenticator model (tests/support/authenticator/): its rules, then the real wire.

The pure tests pin each rule read from aws-iam-authenticator (REFERENCE §1-2), so that a bot
prediction that disagrees with the model is the bot's bug. The kube tests prove the model is
what the kube-apiserver consults: a webhook token is the requester, as the cluster sees them.
"""

from __future__ import annotations

import json
import re
import urllib.request
from typing import Any

import boto3
import pytest
from kubernetes import client

from tests.support.authenticator import (
    API,
    API_AND_CONFIG_MAP,
    CONFIG_MAP,
    EksCluster,
    InvalidToken,
    Review,
    TokenReviewWebhook,
    caller_identity,
    go_fold,
    parse_aws_auth,
    parse_token,
    resolve,
    token_for,
    token_review_status,
)
from tests.support.eks_emulator import EksEmulator
from tests.support.envtest import apply_manifest
from tests.support.kube import (
    ADMIN_USER_ARN,
    FOREIGN_AWS_AUTH_DATA,
    NODE_ROLE_ARN,
    RBAC,
    TEST_OBJECT_LABEL,
    KubeEnv,
)

ACCT = "111122223333"
ROLE = f"arn:aws:iam::{ACCT}:role/deploy"
USER = f"arn:aws:iam::{ACCT}:user/alice"
SSO_ROLE_NAME = "AWSReservedSSO_Developer_0123456789abcdef"
SSO_ROLE = f"arn:aws:iam::{ACCT}:role/aws-reserved/sso.amazonaws.com/eu-west-1/{SSO_ROLE_NAME}"


def roles(text: str) -> dict[str, str]:
    return {"mapRoles": text}


def users(text: str) -> dict[str, str]:
    return {"mapUsers": text}


Answer = tuple[bool, str, tuple[str, ...]]


def who(data: dict[str, str] | None, arn: str, session: str | None = None, **kw: Any) -> Answer:
    """(authenticated, username, groups) for `arn` against aws-auth `data` alone."""
    return resolve(data, None, arn, session, **kw).answer()


# -- tokens and canonical ARNs ---------------------------------------------------------------------


def test_a_token_names_its_caller_and_each_token_is_new() -> None:
    first, second = token_for(ROLE, "ci"), token_for(ROLE, "ci")

    assert first.startswith("eks-test.") and first != second
    assert parse_token(first) == parse_token(second) == (ROLE, "ci")
    assert token_for(ROLE, "ci", nonce="n") == token_for(ROLE, "ci", nonce="n")
    with pytest.raises(InvalidToken):
        parse_token("k8s-aws-v1.aHR0cHM6Ly9zdHM")


@pytest.mark.parametrize(
    ("arn", "session", "canonical", "session_name"),
    [
        (f"arn:aws:sts::{ACCT}:assumed-role/deploy/ci", None, ROLE, "ci"),
        (f"arn:aws:iam::{ACCT}:role/team/dev/deploy", "ci", ROLE, "ci"),  # STS drops the path
        (USER, None, USER, ""),
        (f"arn:aws:iam::{ACCT}:user/team/bob", None, f"arn:aws:iam::{ACCT}:user/team/bob", ""),
    ],
)
def test_callers_are_canonicalised_like_the_authenticator(
    arn: str, session: str | None, canonical: str, session_name: str
) -> None:
    caller = caller_identity(arn, session)

    assert (caller.canonical_arn, caller.session_name, caller.account_id) == (
        canonical,
        session_name,
        ACCT,
    )


@pytest.mark.parametrize(
    ("arn", "session"),
    [
        (ROLE, None),  # a role is only ever seen assumed, with a session
        (f"arn:aws:sts::{ACCT}:assumed-role/deploy/ci", "other"),
        (USER, "ci"),
        (f"arn:aws-mars:iam::{ACCT}:user/alice", None),
        ("arn:aws:iam::1234:user/alice", None),
        (f"arn:aws:s3:::{ACCT}", None),
        (ROLE, "x"),  # session names have 2-64 characters
    ],
)
def test_identities_sts_never_returns_are_refused(arn: str, session: str | None) -> None:
    with pytest.raises(InvalidToken):
        token_for(arn, session)
    assert not resolve({}, None, arn, session).authenticated


# -- aws-auth: parsing ----------------------------------------------------------------------------


@pytest.mark.parametrize("arn_key", ["rolearn", "roleARN", "RoleArn", "ROLEARN"])
@pytest.mark.parametrize("name_key", ["username", "UserName", "USERNAME", "u\u017fername"])
def test_entry_field_names_match_case_insensitively(arn_key: str, name_key: str) -> None:
    data = roles(f"- {arn_key}: {ROLE}\n  {name_key}: deployer\n  Groups: [ci]\n")

    assert who(data, ROLE, "s1") == (True, "deployer", ("ci",))


def test_go_folds_field_names_like_encoding_json() -> None:
    assert go_fold("userName") == go_fold("USERNAME") == go_fold("u\u017fername") == "USERNAME"
    assert go_fold("\u212a") == go_fold("k") == "K"  # the Kelvin sign


def test_two_spellings_of_one_field_the_sorted_last_wins() -> None:
    # sigs.k8s.io/yaml builds JSON from a Go map, so keys arrive sorted: "RoleArn" < "rolearn".
    data = roles(
        f"- rolearn: {ROLE}\n  RoleArn: arn:aws:iam::{ACCT}:role/other\n  username: deployer\n"
    )

    assert who(data, ROLE, "s1")[0]
    assert not who(data, f"arn:aws:iam::{ACCT}:role/other", "s1")[0]


def test_top_level_keys_are_exact() -> None:
    entry = f"- userarn: {USER}\n  username: alice\n"

    assert not who({"MapUsers": entry, "mapusers": entry}, USER)[0]
    assert who({"mapUsers": entry}, USER)[0]


@pytest.mark.parametrize(
    "broken",
    [
        f"- rolearn: {ROLE}\n  username: deployer\n   groups: [x]\n",  # bad indentation
        f"rolearn: {ROLE}\nusername: deployer\n",  # a mapping, not a list
        "just a sentence",
        f"- rolearn: {ROLE}\n  username: .nan\n",  # YAML fine, but no JSON for NaN
        f"- rolearn: {ROLE}\n  ? [a, b]\n  : c\n",  # a key JSON cannot have
    ],
)
def test_a_broken_list_is_lost_whole_and_the_others_stay(broken: str) -> None:
    data = {
        "mapRoles": broken + f"- rolearn: {NODE_ROLE_ARN}\n  username: fine\n",
        "mapUsers": f"- userarn: {USER}\n  username: alice\n",
    }
    parsed = parse_aws_auth(data)

    assert parsed.roles == {} and parsed.problems
    assert not who(data, NODE_ROLE_ARN, "i-0123456789abcdef0")[0]
    assert who(data, USER) == (True, "alice", ())


@pytest.mark.parametrize("value", ["", "   \n", "``", '""', "''", "null", "# only a comment\n"])
def test_skippable_and_empty_values_map_nothing_quietly(value: str) -> None:
    parsed = parse_aws_auth({"mapRoles": value, "mapUsers": value, "mapAccounts": value})

    assert (parsed.roles, parsed.users, parsed.accounts, parsed.problems) == ({}, {}, set(), ())


def test_an_entry_without_its_arn_is_skipped_alone() -> None:
    data = users(
        f"- username: nobody\n  groups: [system:masters]\n"
        f"- just-a-string\n"
        f"- userarn: null\n  username: null-arn\n"
        f"- userarn: {USER}\n  username: alice\n"
    )
    parsed = parse_aws_auth(data)

    assert list(parsed.users) == [USER]
    assert len(parsed.problems) == 3


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ("username: deployer\n  groups: system:masters", (True, "deployer", ())),
        ("username: [deployer]\n  groups: [ci]", (True, "", ("ci",))),
        ("username: yes\n  groups: [ci]", (True, "", ("ci",))),
        ("username: y", (True, "", ())),  # yaml.v2 reads y/n as booleans too
        ("username: 2026-12-01", (True, "2026-12-01", ())),  # no timestamps into interface{}
        ("username: 1:20", (True, "1:20", ())),  # no base-60 numbers in yaml.v2
        ("username: deployer\n  groups: [ci, 1, null, {a: b}]", (True, "deployer", ("ci", "", "", ""))),
        ("username: deployer\n  groups:\n    - system:bootstrappers\n     - system:nodes",
         (True, "deployer", ("system:bootstrappers - system:nodes",))),
    ],
)  # fmt: skip
def test_a_field_of_the_wrong_type_is_left_empty_and_the_entry_kept(
    fields: str, expected: Answer
) -> None:
    assert who(roles(f"- rolearn: {ROLE}\n  {fields}\n"), ROLE, "s1") == expected


def test_roles_are_keyed_by_lower_cased_arn_and_the_last_wins() -> None:
    data = roles(
        f"- rolearn: {ROLE}\n  username: first\n"
        f"- rolearn: {ROLE.upper().replace('ARN:AWS:IAM', 'arn:aws:iam')}\n  username: second\n"
    )

    assert list(parse_aws_auth(data).roles) == [ROLE.lower()]
    assert who(data, ROLE, "s1") == (True, "second", ())


def test_exact_duplicate_users_last_wins() -> None:
    data = users(f"- userarn: {USER}\n  username: first\n- userarn: {USER}\n  username: second\n")

    assert who(data, USER) == (True, "second", ())


def test_case_variant_users_with_different_answers_are_ambiguous_and_refused() -> None:
    shouted = USER.replace("alice", "ALICE")
    data = users(
        f"- userarn: {USER}\n  username: first\n- userarn: {shouted}\n  username: second\n"
    )
    answer = resolve(data, None, USER)

    assert answer.ambiguous and not answer.authenticated
    assert {c.username for c in answer.candidates} == {"first", "second"}


def test_case_variant_users_with_the_same_answer_are_not_ambiguous() -> None:
    shouted = USER.replace("alice", "ALICE")
    data = users(f"- userarn: {USER}\n  username: alice\n- userarn: {shouted}\n  username: alice\n")

    assert resolve(data, None, USER).answer() == (True, "alice", ())
    assert who(data, shouted) == (True, "alice", ())


def test_matching_ignores_letter_case_of_the_caller() -> None:
    data = users(f"- userarn: {USER}\n  username: alice\n")

    assert who(data, USER.replace("alice", "Alice")) == (True, "alice", ())


def test_roles_are_checked_before_users() -> None:
    both = {
        "mapRoles": f"- rolearn: {ROLE}\n  username: from-roles\n",
        "mapUsers": f"- userarn: {ROLE}\n  username: from-users\n",
    }

    assert who(both, ROLE, "s1") == (True, "from-roles", ())
    assert who({"mapUsers": both["mapUsers"]}, ROLE, "s1") == (True, "from-users", ())


def test_a_rolearn_with_a_path_never_matches() -> None:
    data = roles(f"- rolearn: arn:aws:iam::{ACCT}:role/team/dev/deploy\n  username: deployer\n")

    assert not who(data, f"arn:aws:iam::{ACCT}:role/team/dev/deploy", "s1")[0]


def test_map_accounts_answers_the_canonical_arn_without_groups() -> None:
    data = {
        "mapAccounts": f'- {ACCT}\n- "444455556666"\n',
        "mapUsers": f"- userarn: {USER}\n  username: alice\n",
    }

    assert who(data, f"arn:aws:sts::{ACCT}:assumed-role/Deploy/ci") == (
        True,
        f"arn:aws:iam::{ACCT}:role/Deploy",
        (),
    )
    assert who(data, USER) == (True, "alice", ())  # an explicit mapping comes first
    assert resolve(data, None, "arn:aws:iam::444455556666:user/x").source == "mapAccounts"
    assert not who(data, "arn:aws:iam::999988887777:user/x")[0]


def test_map_accounts_keeps_the_literal_text_of_each_item() -> None:
    parsed = parse_aws_auth({"mapAccounts": "- 011122223333\n- '444455556666'\n- [nested]\n"})

    assert parsed.accounts == {"011122223333", "444455556666"}


# -- aws-auth: sso entries and templates ---------------------------------------------------------

SSO_ENTRY = "- sso:\n    permissionSetName: Developer\n    accountID: '111122223333'\n{extra}  username: sso:{{{{SessionName}}}}\n"


def test_sso_entries_need_the_sso_role_match_gate() -> None:
    data = roles(SSO_ENTRY.format(extra=""))

    assert not who(data, SSO_ROLE, "alice@example.com")[0]
    assert who(data, SSO_ROLE, "alice@example.com", sso_role_match=True) == (
        True,
        "sso:alice-example.com",
        (),
    )


@pytest.mark.parametrize(
    "entry",
    [
        SSO_ENTRY.format(extra="    partition: aws\n"),  # yields arn::iam::…, never matches
        SSO_ENTRY.format(extra=f"  rolearn: {ROLE}\n"),  # both: invalid, skipped
        SSO_ENTRY.replace("'111122223333'", "'1111'").format(extra=""),
        SSO_ENTRY.format(extra="    partition: aws-mars\n"),
    ],
)
def test_sso_entries_that_cannot_match(entry: str) -> None:
    assert not who(roles(entry), SSO_ROLE, "alice", sso_role_match=True)[0]


def test_templates_render_in_username_and_each_group() -> None:
    data = roles(
        f"- rolearn: {ROLE}\n"
        "  username: ci:{{AccountID}}:{{SessionName}}:{{SessionNameRaw}}\n"
        "  groups:\n  - team-{{AccountID}}\n  - '{{SessionName}}'\n"
    )

    assert who(data, ROLE, "bob@example.com") == (
        True,
        f"ci:{ACCT}:bob-example.com:bob@example.com",
        (f"team-{ACCT}", "bob-example.com"),
    )


@pytest.mark.parametrize(
    "username", ["key:{{AccessKeyID}}", "system:node:{{EC2PrivateDNSName}}", "ok"]
)
def test_a_template_that_cannot_render_refuses_without_falling_back(username: str) -> None:
    data = {
        "mapRoles": f"- rolearn: {ROLE}\n  username: ok\n  groups: ['{username}']\n",
        "mapAccounts": f"- '{ACCT}'\n",
    }

    assert who(data, ROLE, "ci")[0] == (username == "ok")


def test_node_names_need_an_instance_id_and_its_dns_name() -> None:
    data = dict(FOREIGN_AWS_AUTH_DATA)
    names = {"i-0123456789abcdef0": "ip-10-0-1-7.eu-west-1.compute.internal"}

    assert not who(data, NODE_ROLE_ARN, "i-0123456789abcdef0")[0]
    assert not who(data, NODE_ROLE_ARN, "not-an-instance", ec2_private_dns_names=names)[0]
    assert who(data, NODE_ROLE_ARN, "i-0123456789abcdef0", ec2_private_dns_names=names) == (
        True,
        "system:node:ip-10-0-1-7.eu-west-1.compute.internal",
        ("system:bootstrappers", "system:nodes"),
    )


def test_the_fixture_aws_auth() -> None:
    data = dict(FOREIGN_AWS_AUTH_DATA)

    assert who(data, ADMIN_USER_ARN) == (True, "platform-admin", ("system:masters",))
    assert who(data, "arn:aws:iam::444455556666:user/x") == (
        True,
        "arn:aws:iam::444455556666:user/x",
        (),
    )
    sso_admin = f"arn:aws:iam::{ACCT}:role/AWSReservedSSO_PlatformAdmin_55aa"
    assert not who(data, sso_admin, "carol")[0]
    assert who(data, sso_admin, "carol", sso_role_match=True) == (
        True,
        "sso-admin:carol",
        ("platform:admins",),
    )
    assert not who(data, USER)[0]


# -- access entries --------------------------------------------------------------------------------


def entry(principal: str, username: str | None = None, *groups: str) -> dict[str, Any]:
    found: dict[str, Any] = {"principalArn": principal, "kubernetesGroups": list(groups)}
    if username is not None:
        found["username"] = username
    return found


AWS_AUTH_DEPLOY = roles(f"- rolearn: {ROLE}\n  username: from-aws-auth\n")


def test_an_access_entry_overrides_aws_auth_and_may_carry_a_path() -> None:
    entries = [entry(f"arn:aws:iam::{ACCT}:role/team/deploy", "ci:{{SessionName}}", "ci")]
    answer = resolve(AWS_AUTH_DEPLOY, entries, ROLE, "run-7")

    assert (answer.answer(), answer.source) == ((True, "ci:run-7", ("ci",)), "access-entry")


@pytest.mark.parametrize("username", [None, ""])
def test_access_entry_default_usernames(username: str | None) -> None:
    entries = [entry(f"arn:aws:iam::{ACCT}:role/team/deploy", username), entry(USER, username)]

    assert resolve(None, entries, ROLE, "a@b.c").answer() == (
        True,
        f"arn:aws:sts::{ACCT}:assumed-role/deploy/a-b.c",
        (),
    )
    assert resolve(None, entries, USER).answer() == (True, USER, ())


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        (API_AND_CONFIG_MAP, "from-aws-auth"),
        (CONFIG_MAP, "from-aws-auth"),
        (API, None),
    ],
)
def test_the_mode_decides_whether_aws_auth_is_read(mode: str, expected: str | None) -> None:
    answer = resolve(AWS_AUTH_DEPLOY, [entry(USER, "alice")], ROLE, "s1", authentication_mode=mode)

    assert answer.username == (expected or "") and answer.authenticated == bool(expected)


def test_config_map_mode_ignores_access_entries() -> None:
    entries = [entry(ROLE, "from-entry")]

    assert resolve(
        AWS_AUTH_DEPLOY, entries, ROLE, "s1", authentication_mode=CONFIG_MAP
    ).username == ("from-aws-auth")


@pytest.mark.parametrize(
    "principal",
    [
        "arn:aws:iam::444455556666:role/deploy",  # another account
        f"arn:aws:sts::{ACCT}:assumed-role/deploy/s1",  # EKS refuses session ARNs
        f"arn:aws:iam::{ACCT}:user/deploy",  # a user of the same name
        f"arn:aws:iam::{ACCT}:role/deployer",
    ],
)
def test_access_entries_for_other_principals_do_not_match(principal: str) -> None:
    assert not resolve(
        None, [entry(principal, "x")], ROLE, "s1", authentication_mode=API
    ).authenticated


def test_unmapped_is_unauthenticated() -> None:
    answer = resolve(dict(FOREIGN_AWS_AUTH_DATA), [], USER)

    assert not answer.authenticated and "not mapped" in answer.reason


# -- the webhook's wire format -------------------------------------------------------------------


def post_review(url: str, token: str) -> dict[str, Any]:
    body = {"apiVersion": "authentication.k8s.io/v1beta1", "kind": "TokenReview",
            "spec": {"token": token, "audiences": ["https://kubernetes.default.svc"]}}  # fmt: skip
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        answer: dict[str, Any] = json.load(response)
    return answer


def test_the_webhook_answers_token_reviews_and_records_them() -> None:
    with TokenReviewWebhook() as webhook:
        unmapped = post_review(webhook.url, token_for(USER))
        foreign = post_review(webhook.url, "k8s-aws-v1.abc")

        assert unmapped == {"apiVersion": "authentication.k8s.io/v1beta1", "kind": "TokenReview",
                            "status": {"authenticated": False}}  # fmt: skip
        assert foreign["status"] == {"authenticated": False}
        assert [(r.arn, r.resolution.authenticated) for r in webhook.reviews] == [
            (USER, False),
            (None, False),
        ]


def test_an_authenticated_status_carries_the_authenticators_uid_and_extra() -> None:
    review = Review(ROLE, "ci", resolve(AWS_AUTH_DEPLOY, None, ROLE, "ci"))
    status = token_review_status(review)
    caller = caller_identity(ROLE, "ci")

    assert status["user"]["username"] == "from-aws-auth"
    assert status["user"]["uid"] == f"aws-iam-authenticator:{ACCT}:{caller.principal_id}"
    assert status["user"]["extra"]["arn"] == [f"arn:aws:sts::{ACCT}:assumed-role/deploy/ci"]
    assert status["user"]["extra"]["canonicalArn"] == [ROLE]


# -- on the real apiserver -------------------------------------------------------------------------


def list_pods(api_client: client.ApiClient, namespace: str = "default") -> int:
    """The HTTP status of `list pods` as this client."""
    try:
        client.CoreV1Api(api_client).list_namespaced_pod(namespace)
    except client.ApiException as exc:
        return int(exc.status or 0)
    finally:
        api_client.close()
    return 200


def forbidden_user(api_client: client.ApiClient) -> str:
    """The username the apiserver names in its 403: who it took the caller for."""
    with api_client:
        try:
            client.CoreV1Api(api_client).list_namespaced_pod("default")
        except client.ApiException as exc:
            assert exc.status == 403, exc
            found = re.search(r'User "([^"]*)"', json.loads(exc.body or "{}").get("message", ""))
            assert found, exc.body
            return found[1]
    raise AssertionError("expected a 403")


@pytest.fixture
def authenticated(kube_env: KubeEnv, aws_auth_reset: dict[str, str]) -> KubeEnv:
    """The session's apiserver with the fixture aws-auth; the model back to its defaults."""
    assert kube_env.authenticator is not None
    return kube_env


def append_to_aws_auth(kube_env: KubeEnv, key: str, text: str) -> None:
    core = client.CoreV1Api(kube_env.admin_api_client())
    cm = core.read_namespaced_config_map("aws-auth", "kube-system")
    cm.data = {**(cm.data or {}), key: (cm.data or {}).get(key, "") + text}
    core.replace_namespaced_config_map("aws-auth", "kube-system", cm)


@pytest.mark.kube
def test_a_user_mapped_to_system_masters_lists_pods(authenticated: KubeEnv) -> None:
    assert list_pods(authenticated.api_client_as(ADMIN_USER_ARN)) == 200
    assert authenticated.authenticator is not None
    [review] = authenticated.authenticator.reviews_of(ADMIN_USER_ARN)
    assert review.resolution.answer() == (True, "platform-admin", ("system:masters",))


@pytest.mark.kube
def test_an_unmapped_arn_gets_401(authenticated: KubeEnv) -> None:
    assert list_pods(authenticated.api_client_as(USER)) == 401


@pytest.mark.kube
def test_a_revoked_mapping_is_refused_on_the_next_token(authenticated: KubeEnv) -> None:
    assert list_pods(authenticated.api_client_as(ADMIN_USER_ARN)) == 200
    core = client.CoreV1Api(authenticated.admin_api_client())
    cm = core.read_namespaced_config_map("aws-auth", "kube-system")
    cm.data = {k: v for k, v in (cm.data or {}).items() if k != "mapUsers"}
    core.replace_namespaced_config_map("aws-auth", "kube-system", cm)

    assert list_pods(authenticated.api_client_as(ADMIN_USER_ARN)) == 401


@pytest.mark.kube
def test_an_sso_session_is_the_templated_username(authenticated: KubeEnv) -> None:
    append_to_aws_auth(
        authenticated,
        "mapRoles",
        f"- rolearn: arn:aws:iam::{ACCT}:role/{SSO_ROLE_NAME}\n  username: sso:{{{{SessionName}}}}\n",
    )
    meta = {"name": "alice-pods", "namespace": "default", "labels": {TEST_OBJECT_LABEL: "true"}}
    apply_manifest(
        authenticated.admin_api_client(),
        [
            {"kind": "Role", "metadata": meta,
             "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}]},
            {"kind": "RoleBinding", "metadata": meta,
             "roleRef": {"apiGroup": RBAC, "kind": "Role", "name": "alice-pods"},
             "subjects": [{"apiGroup": RBAC, "kind": "User", "name": "sso:alice-example.com"}]},
        ],
    )  # fmt: skip
    assert authenticated.settled_can(
        "sso:alice-example.com", [], "list", "pods", "default", expect=True
    )

    assert list_pods(authenticated.api_client_as(SSO_ROLE, "alice@example.com")) == 200
    colleague = authenticated.api_client_as(SSO_ROLE, "bob@example.com")
    assert forbidden_user(colleague) == "sso:bob-example.com"


@pytest.mark.kube
def test_access_entries_are_read_live_through_the_eks_api(
    authenticated: KubeEnv, fresh_eks: EksEmulator
) -> None:
    account, region, name = "123456789012", "eu-west-1", "payments"  # the emulator's account
    fresh_eks.add_cluster(name, region=region, account=account, mode=API_AND_CONFIG_MAP)
    eks = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region
    ).client("eks", endpoint_url=fresh_eks.url)
    role = f"arn:aws:iam::{account}:role/team/deployer"
    eks.create_access_entry(
        clusterName=name, principalArn=role, username="deployer:{{SessionName}}"
    )
    assert authenticated.authenticator is not None
    authenticated.authenticator.use_eks(EksCluster(name, fresh_eks.url, region))

    as_deployer = authenticated.api_client_as(f"arn:aws:iam::{account}:role/deployer", "ci@7")
    assert forbidden_user(as_deployer) == "deployer:ci-7"
    assert list_pods(authenticated.api_client_as(ADMIN_USER_ARN)) == 200  # aws-auth still read

    fresh_eks.set_mode(name, API)
    assert list_pods(authenticated.api_client_as(ADMIN_USER_ARN)) == 401
    eks.delete_access_entry(clusterName=name, principalArn=role)
    assert list_pods(authenticated.api_client_as(role, "ci")) == 401


@pytest.mark.kube
def test_sso_entries_match_once_the_gate_is_on(authenticated: KubeEnv) -> None:
    sso_admin = f"arn:aws:iam::{ACCT}:role/AWSReservedSSO_PlatformAdmin_55aa"
    assert authenticated.authenticator is not None

    assert list_pods(authenticated.api_client_as(sso_admin, "carol")) == 401
    authenticated.authenticator.configure(sso_role_match=True)
    assert forbidden_user(authenticated.api_client_as(sso_admin, "carol")) == "sso-admin:carol"
