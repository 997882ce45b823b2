"""Whether the IAM users and roles named in the configuration exist (`check-config --check-aws`)."""

from __future__ import annotations

import logging

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from bot.domain.principals import Principal

log = logging.getLogger(__name__)


class IamPrincipalChecker:
    """Looks principals up by name with IAM GetUser/GetRole.

    Those calls answer for the account of the bot's own credentials only, so a principal in
    another account is reported as "could not check" instead of "does not exist".
    """

    def __init__(
        self, session: boto3.Session | None = None, endpoint_url: str | None = None
    ) -> None:
        """`session` None: the bot's own credentials (boto3's default chain)."""
        session = session if session is not None else boto3.Session()
        self._iam = session.client("iam", endpoint_url=endpoint_url)
        self._sts = session.client("sts", endpoint_url=endpoint_url)
        self._own_account: str | None = None

    def exists(self, principal: Principal) -> bool | None:
        """True or False; None when IAM could not be asked (denied, unreachable, other account)."""
        account = self._account()
        if account is None:
            return None
        if principal.account != account:
            log.info("Not checking %s: it is not in the bot's account %s", principal.arn, account)
            return None
        try:
            if principal.kind == "user":
                self._iam.get_user(UserName=principal.name)
            else:
                self._iam.get_role(RoleName=principal.name)
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") == "NoSuchEntity":
                return False
            log.warning("Could not check whether %s exists: %s", principal.arn, e)
            return None
        except BotoCoreError as e:
            log.warning("Could not check whether %s exists: %s", principal.arn, e)
            return None
        return True

    def _account(self) -> str | None:
        if self._own_account is None:
            try:
                self._own_account = str(self._sts.get_caller_identity()["Account"])
            except (BotoCoreError, ClientError) as e:
                log.warning("Could not tell which AWS account the bot's credentials are in: %s", e)
        return self._own_account
