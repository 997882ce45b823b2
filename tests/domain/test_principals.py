import pytest

from bot.domain.principals import Identity, Principal, UnrenderableUsername


def test_user() -> None:
    p = Principal.parse("arn:aws:iam::111122223333:user/alice")
    assert (p.kind, p.account, p.name) == ("user", "111122223333", "alice")
    assert p.mapping_arn == p.arn
    assert p.username == "eks-access:111122223333:user/alice"


def test_role_path_is_stripped_for_aws_auth() -> None:
    p = Principal.parse("arn:aws:iam::111122223333:role/teams/dev/dave-admin")
    assert p.mapping_arn == "arn:aws:iam::111122223333:role/dave-admin"
    assert p.username == "eks-access:111122223333:role/dave-admin"


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:sts::111122223333:assumed-role/x/y",
        "arn:aws:iam::1111:user/a",
        "arn:aws:iam::111122223333:group/a",
        "arn:aws:iam::111122223333:user/ａlice",
        "arn:aws:iam::111122223333:user/",
        "user/alice",
    ],
)
def test_refused(arn: str) -> None:
    with pytest.raises(ValueError, match="is not an IAM user or role ARN"):
        Principal.parse(arn)


SSO_ROLE = "arn:aws:iam::111122223333:role/AWSReservedSSO_EKSUsers_0123456789abcdef"


def test_an_assumed_role_arn_is_the_role_and_its_session() -> None:
    identity = Identity.parse(
        "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_EKSUsers_0123456789abcdef/alice@example.com"
    )
    assert identity == Identity.parse(SSO_ROLE, "alice@example.com")
    assert identity.assumed_role_arn == (
        "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_EKSUsers_0123456789abcdef/alice@example.com"
    )


def test_usernames_render_as_the_authenticator_renders_them() -> None:
    alice = Identity.parse(SSO_ROLE, "alice@example.com")
    assert alice.render("sso:{{SessionName}}") == "sso:alice-example.com"
    assert alice.render("{{SessionNameRaw}}@{{AccountID}}") == "alice@example.com@111122223333"
    assert alice.render("fixed:{{Unknown}}") == "fixed:{{Unknown}}"  # left as written
    user = Identity.parse("arn:aws:iam::111122223333:user/bob")
    assert user.render("u:{{SessionName}}") == "u:"  # users have an empty session name


@pytest.mark.parametrize(
    ("identity", "template", "missing"),
    [
        (Identity.parse(SSO_ROLE, "alice"), "system:node:{{EC2PrivateDNSName}}", "EC2Private"),
        (Identity.parse(SSO_ROLE, "alice"), "k:{{AccessKeyID}}", "AccessKeyID"),
        (Identity.parse(SSO_ROLE), "sso:{{SessionName}}", "the session name"),
        (Identity.parse(SSO_ROLE), "sso:{{SessionNameRaw}}", "the session name"),
    ],
)
def test_templates_the_bot_cannot_render_are_refused(
    identity: Identity, template: str, missing: str
) -> None:
    with pytest.raises(UnrenderableUsername, match=missing):
        identity.render(template)


def test_the_bot_s_own_usernames_keep_each_person_apart_on_a_shared_role() -> None:
    alice = Identity.parse(SSO_ROLE, "alice@example.com")
    bob = Identity.parse(SSO_ROLE, "bob@example.com")
    role = Identity.parse(SSO_ROLE)
    assert (
        alice.owned_username_template
        == bob.owned_username_template
        == ("eks-access:111122223333:role/AWSReservedSSO_EKSUsers_0123456789abcdef:{{SessionName}}")
    )
    assert alice.owned_username != bob.owned_username
    assert alice.owned_username.endswith(":alice-example.com")
    assert (
        role.owned_username
        == "eks-access:111122223333:role/AWSReservedSSO_EKSUsers_0123456789abcdef"
    )
    principal = alice.principal
    assert principal.owns_username(alice.owned_username_template)
    assert principal.owns_username(role.owned_username)
    assert not principal.owns_username("eks-access:bot")
    assert not principal.owns_username(alice.owned_username)  # a rendered name is no entry's


@pytest.mark.parametrize(
    ("arn", "session", "message"),
    [
        ("arn:aws:iam::111122223333:user/alice", "alice", "is an IAM user"),
        (SSO_ROLE, "a", "is not an STS session name"),
        (SSO_ROLE, "alice smith", "is not an STS session name"),
        (SSO_ROLE, "x" * 65, "is not an STS session name"),
        ("arn:aws:sts::111122223333:assumed-role/r/alice", "bob", "already names the session"),
    ],
)
def test_bad_sessions_are_refused(arn: str, session: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Identity.parse(arn, session)


def test_a_principal_is_one_key_with_or_without_its_path() -> None:
    with_path = Principal.parse("arn:aws:iam::111122223333:role/teams/dev/Dave-Admin")
    without = Principal.parse("arn:aws:iam::111122223333:role/dave-admin")
    assert with_path.key == without.key
