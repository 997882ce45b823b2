import pytest

from bot.domain.principals import Principal


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
