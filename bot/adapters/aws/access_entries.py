"""Identity mappings as EKS access entries (clusters in API or API_AND_CONFIG_MAP mode).

The golden rule, access-entry edition: the bot creates STANDARD entries tagged
`managed-by: eks-access` with a username it derives, and only ever deletes entries carrying
both. An entry someone else created is never updated, deleted or given access policies; the
bot binds RBAC to the username that entry gives the requester instead. One entry per principal
is shared by every live grant of that principal on the cluster (FinishRevocation deletes it
with the last one), and creating it is idempotent, so a re-run after a crash converges.
"""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from bot.adapters.aws.errors import aws_error, error_code
from bot.domain.errors import EksAccessError, PermanentError
from bot.domain.grants import MappedIdentity, MappedVia
from bot.domain.principals import Identity, Principal
from bot.domain.rbac import ACCESS_ENTRY_OWNER_TAG, MANAGED_BY_VALUE
from bot.domain.usernames import username_for

log = logging.getLogger(__name__)

OWNER_TAG = ACCESS_ENTRY_OWNER_TAG
OWNER_VALUE = MANAGED_BY_VALUE


def default_username(principal: Principal) -> str:
    """What EKS gives an entry created without a username (EKS user guide, set-custom-username)."""
    if principal.kind == "user":
        return principal.arn
    return f"arn:{principal.partition}:sts::{principal.account}:assumed-role/{principal.name}/{{{{SessionName}}}}"


class AccessEntryMapper:
    """The access entries of one EKS cluster, through a boto3 `eks` client."""

    def __init__(self, eks: Any, cluster_name: str) -> None:
        self._eks = eks
        self._cluster = cluster_name
        self._region = eks.meta.region_name

    def ensure(self, identity: Identity) -> MappedIdentity:
        principal = identity.principal
        entry = self._describe(principal.arn)
        if entry is None:
            entry = self._create(identity)
        username = entry.get("username") or default_username(principal)
        if self._owned(entry):
            if username.lower() != identity.owned_username_template.lower():
                raise PermanentError(
                    f"The bot's access entry for {principal.arn} on EKS cluster "
                    f"'{self._cluster}' has the username {username!r}, made for "
                    + (
                        "one person per session"
                        if ":{{SessionName}}" in username
                        else "the role as a whole"
                    )
                    + ", so it cannot also serve "
                    + identity.describe()
                    + ". Grants of a role use either session names or none, not both."
                )
            return MappedIdentity(identity.owned_username, MappedVia.ACCESS_ENTRY)
        where = f"the access entry of EKS cluster '{self._cluster}'"
        return MappedIdentity(username_for(identity, username, where=where), MappedVia.EXISTING)

    def remove(self, principal: Principal) -> None:
        try:
            entry = self._describe(principal.arn)
        except _NoAccessEntries:
            return  # a CONFIG_MAP cluster never had any: the mode only moves away from it
        if entry is None or not self._owned(entry):
            return
        self._delete(principal)

    def _delete(self, principal: Principal) -> None:
        try:
            self._eks.delete_access_entry(clusterName=self._cluster, principalArn=principal.arn)
        except (BotoCoreError, ClientError) as e:
            if error_code(e) == "ResourceNotFoundException":
                return  # gone already
            raise self._error(e, f"delete the access entry of {principal.arn}") from e

    def prefetch(self, identity: Identity) -> None:
        """Nothing to read ahead: `ensure` asks EKS about the one principal it maps."""

    def owned_arns(self) -> set[str]:
        """Principal ARNs of the bot's own entries: a describe per entry (tags are not listed)."""
        try:
            arns = self._list()
        except _NoAccessEntries:
            return set()
        owned = set()
        for arn in arns:
            entry = self._describe(arn)
            if entry is not None and self._owned(entry):
                owned.add(arn)
        return owned

    def check_reads(
        self, sample: Principal | None
    ) -> tuple[tuple[str, ...], EksAccessError | None]:
        """Make once each read the bot makes (the preflight): the IAM actions that answered,
        and the refusal a grant would meet, with its sentence, if one did not.

        `sample` is a principal whose entry the bot would read at a grant. AWS authorizes a call
        before the service looks anything up, so "no such entry" counts as an answer too.
        """
        try:
            self._eks.list_access_entries(clusterName=self._cluster, maxResults=1)
        except (BotoCoreError, ClientError) as e:
            return (), self._error(e, "list access entries")
        if sample is None:
            return ("eks:ListAccessEntries",), None
        try:
            self._describe(sample.arn)
        except EksAccessError as e:
            return ("eks:ListAccessEntries",), e
        return ("eks:ListAccessEntries", "eks:DescribeAccessEntry"), None

    # -- one API call each ---------------------------------------------------------------------

    def _describe(self, arn: str) -> dict[str, Any] | None:
        try:
            answer = self._eks.describe_access_entry(clusterName=self._cluster, principalArn=arn)
        except (BotoCoreError, ClientError) as e:
            if error_code(e) == "ResourceNotFoundException":
                return None  # no entry (a missing cluster fails the create that follows)
            raise self._error(e, f"read the access entry of {arn}") from e
        entry: dict[str, Any] = answer["accessEntry"]
        return entry

    def _create(self, identity: Identity) -> dict[str, Any]:
        arn = identity.principal.arn
        try:
            answer = self._eks.create_access_entry(
                clusterName=self._cluster,
                principalArn=arn,
                username=identity.owned_username_template,
                type="STANDARD",
                tags={OWNER_TAG: OWNER_VALUE},
            )
        except (BotoCoreError, ClientError) as e:
            if error_code(e) == "ResourceInUseException":
                # Created meanwhile: by another replica (then tagged ours) or by someone else,
                # whose entry is foreign from now on.
                entry = self._describe(arn)
                if entry is not None:
                    return entry
            raise self._error(e, f"create an access entry for {arn}") from e
        created: dict[str, Any] = answer["accessEntry"]
        log.info("created access entry for %s on %s", arn, self._cluster)
        return created

    def _list(self) -> list[str]:
        try:
            pages = self._eks.get_paginator("list_access_entries").paginate(
                clusterName=self._cluster
            )
            return [arn for page in pages for arn in page.get("accessEntries", [])]
        except (BotoCoreError, ClientError) as e:
            raise self._error(e, "list access entries") from e

    def _owned(self, entry: dict[str, Any]) -> bool:
        if (entry.get("tags") or {}).get(OWNER_TAG) != OWNER_VALUE:
            return False
        try:
            principal = Principal.parse(str(entry.get("principalArn", "")))
        except ValueError:
            return False
        return principal.owns_username(str(entry.get("username") or ""))

    def _error(self, e: BotoCoreError | ClientError, action: str) -> EksAccessError:
        where = f"EKS cluster '{self._cluster}' in region {self._region}"
        if _in_config_map_mode(e):
            return _NoAccessEntries(
                f"{where} does not read access entries (its authentication mode is CONFIG_MAP). "
                "Set `mapping: aws-auth` (or `auto`) for it, or move it to API_AND_CONFIG_MAP."
            )
        return aws_error(e, action=f"{action} on {where}", not_found=f"{where} was not found.")


class _NoAccessEntries(PermanentError):
    """The cluster reads aws-auth only (CONFIG_MAP): there is nothing to read or remove."""


def _in_config_map_mode(e: BaseException) -> bool:
    return error_code(e) == "InvalidRequestException" and "authentication mode" in str(e)
