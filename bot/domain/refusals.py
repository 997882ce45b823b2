"""Every refusal the core makes of a request, a decision or a grant, as facts (those of the
command's text are in `bot.domain.command_refusals`). Each writes its one sentence (what was wrong, what
is allowed) with the markup the edge gives it; `str()` is the plain-text form."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bot.domain.durations import format_duration
from bot.domain.errors import Conflict, NotFound, Rejected
from bot.domain.markup import Markup, codes

# -- a request against the policy --------------------------------------------------------------


@dataclass(eq=False)
class ProfileNotRequestable(Rejected):
    profile: str
    exists: bool
    requestable: tuple[str, ...]

    def describe(self, m: Markup) -> str:
        what = "You may not request" if self.exists else "There is no profile"
        return (
            f"{what} {m.code(self.profile)}. "
            f"Profiles you may request: {codes(m, self.requestable)}."
        )


@dataclass(eq=False)
class NoIdentity(Rejected):
    user: str

    def describe(self, m: Markup) -> str:
        return (
            "You have no IAM identity in the policy, so there is nothing to grant access to. "
            f"Ask the platform team to add your Slack id {m.code(self.user)} under "
            f"{m.code('identities')}."
        )


@dataclass(eq=False)
class NoSuchCluster(Rejected):
    cluster: str | None
    clusters: tuple[str, ...]

    def describe(self, m: Markup) -> str:
        return (
            f"There is no cluster {m.code(str(self.cluster))}. Clusters: {codes(m, self.clusters)}."
        )


@dataclass(eq=False)
class ProfileNotOnCluster(Rejected):
    profile: str
    cluster: str
    clusters: tuple[str, ...]

    def describe(self, m: Markup) -> str:
        return (
            f"Profile {m.code(self.profile)} is not granted on {m.code(self.cluster)}; "
            f"only on {codes(m, self.clusters)}."
        )


@dataclass(eq=False)
class NoEmailForSso(Rejected):
    cluster: str
    sso_role: str

    def describe(self, m: Markup) -> str:
        return (
            f"On {m.code(self.cluster)} you sign in through the shared role "
            f"{m.code(self.sso_role)} with your email address as the session name, but your "
            "Slack profile shows no email. Ask the platform team to add you under "
            f"{m.code('identities')}."
        )


@dataclass(eq=False)
class EmailNotASessionName(Rejected):
    email: str
    sso_role: str

    def describe(self, m: Markup) -> str:
        return (
            f"Your email {m.code(self.email)} cannot be an AWS session name (at most 64 of "
            "letters, digits and + = , . @ _ -), so the bot cannot tell you apart on the "
            f"shared role {m.code(self.sso_role)}. Ask the platform team to add you under "
            f"{m.code('identities')}."
        )


@dataclass(eq=False)
class NamespaceNeeded(Rejected):
    profile: str
    allowed: tuple[str, ...]

    def describe(self, m: Markup) -> str:
        return (
            f"Which namespace? Add {m.code('ns=<name>')}; {m.code(self.profile)} allows "
            f"{codes(m, self.allowed)}."
        )


@dataclass(eq=False)
class NamespaceNotAllowed(Rejected):
    namespace: str
    profile: str
    allowed: tuple[str, ...]

    def describe(self, m: Markup) -> str:
        return (
            f"Namespace {m.code(self.namespace)} is not allowed for {m.code(self.profile)}; "
            f"allowed: {codes(m, self.allowed)}."
        )


@dataclass(eq=False)
class DurationOutOfBounds(Rejected):
    asked: timedelta
    profile: str
    shortest: timedelta
    longest: timedelta

    def describe(self, m: Markup) -> str:
        return (
            f"{m.code(format_duration(self.asked))} is outside what {m.code(self.profile)} "
            f"allows: between {format_duration(self.shortest)} and "
            f"{format_duration(self.longest)}."
        )


@dataclass(eq=False)
class AlreadyRequested(Rejected):
    grant_id: str
    profile: str
    namespace: str
    status: str

    def describe(self, m: Markup) -> str:
        return (
            f"You already have request {m.code(self.grant_id)} for {m.code(self.profile)} in "
            f"{m.code(self.namespace)} ({self.status}). Use "
            f"{m.code(f'/eks-access extend {self.grant_id} <duration>')} to make an active "
            "grant longer."
        )


@dataclass(eq=False)
class ProfileGone(Rejected):
    profile: str

    def describe(self, m: Markup) -> str:
        return f"Profile {m.code(self.profile)} is no longer in the policy."


@dataclass(eq=False)
class OnlyGrantPlanned(Rejected):
    def describe(self, m: Markup) -> str:
        return f"Only {m.code('grant')} can be planned."


# -- decisions ---------------------------------------------------------------------------------


@dataclass(eq=False)
class NoSuchRequest(NotFound):
    grant_id: str

    def describe(self, m: Markup) -> str:
        return f"There is no request {m.code(self.grant_id)}."


@dataclass(eq=False)
class NoSuchExtension(NotFound):
    extension_id: str

    def describe(self, m: Markup) -> str:
        return f"There is no extension request {m.code(self.extension_id)}."


@dataclass(eq=False)
class NotAnApprover(Rejected):
    profile: str
    approvers: tuple[str, ...]

    def describe(self, m: Markup) -> str:
        who = ", ".join(m.member(a) for a in self.approvers)
        return f"You are not an approver of {m.code(self.profile)}; its approvers are {who}."


@dataclass(eq=False)
class OwnDecision(Rejected):
    profile: str
    what: str  # request, extension

    def describe(self, m: Markup) -> str:
        return (
            f"You cannot approve or deny your own {self.what}; "
            f"another approver of {m.code(self.profile)} must."
        )


#: What a decided request or extension became, as the next clicker hears it.
_OUTCOME = {
    "activating": "approved",
    "active": "approved",
    "revoking": "approved",
    "ended": "approved",
    "timed_out": "closed: it timed out",
    "cancelled": "withdrawn by the requester",
}


@dataclass(eq=False)
class AlreadyDecided(Conflict):
    """`grant_id`: the request's; None for an extension."""

    grant_id: str | None
    status: str
    by: str | None

    def describe(self, m: Markup) -> str:
        outcome = _OUTCOME.get(self.status, self.status.replace("_", " "))
        closed = outcome.startswith(("closed", "withdrawn"))
        by = f" by {m.person(self.by)}" if self.by and not closed else ""
        what = "This extension" if self.grant_id is None else f"Request {m.code(self.grant_id)}"
        return f"{what} was already {outcome}{by}."


@dataclass(eq=False)
class ApprovalAlreadyCounted(Conflict):
    """A second Approve by someone whose vote the request already holds."""

    grant_id: str
    approvals: int
    needed: int

    def describe(self, m: Markup) -> str:
        more = self.needed - self.approvals
        return (
            f"Your approval of {m.code(self.grant_id)} is already counted "
            f"({self.approvals} of {self.needed}); it needs {more} more from other approvers."
        )


@dataclass(eq=False)
class RequestTimedOut(Rejected):
    grant_id: str

    def describe(self, m: Markup) -> str:
        return (
            f"Request {m.code(self.grant_id)} waited too long and has timed out; ask for a new one."
        )
