"""Slack identifiers, defined once. A button carries only an opaque id as its value."""

from __future__ import annotations

from enum import StrEnum


class Action(StrEnum):
    APPROVE_GRANT = "eks_access.approve_grant"
    DENY_GRANT = "eks_access.deny_grant"
    APPROVE_EXTENSION = "eks_access.approve_extension"
    DENY_EXTENSION = "eks_access.deny_extension"
    EXTEND_GRANT = "eks_access.extend_grant"
    ACKNOWLEDGE_BREAK_GLASS = "eks_access.acknowledge_break_glass"
    #: End an active grant now (the "access is active" DM, the App Home).
    REVOKE_GRANT = "eks_access.revoke_grant"
    #: Withdraw a pending request (the App Home).
    WITHDRAW_REQUEST = "eks_access.withdraw_request"
    #: The request dialog's profile select: choosing one redraws the dialog for it.
    CHOOSE_PROFILE = "eks_access.choose_profile"
    #: The App Home's "Request access" button: opens the request dialog.
    OPEN_REQUEST_DIALOG = "eks_access.open_request_dialog"


class View(StrEnum):
    DENY_REASON = "eks_access.deny_reason"
    EXTEND = "eks_access.extend"
    REQUEST_ACCESS = "eks_access.request_access"


class Shortcut(StrEnum):
    #: The global shortcut (manifest: features.shortcuts) that opens the request dialog.
    REQUEST_ACCESS = "request_access"


class Field(StrEnum):
    REASON_BLOCK = "reason"
    REASON_INPUT = "reason_input"
    DURATION_BLOCK = "duration"
    DURATION_INPUT = "duration_input"
    # The request dialog's blocks (each with one element whose action_id is the same name).
    PROFILE = "request_profile"
    CLUSTER = "request_cluster"
    NAMESPACE = "request_namespace"
    DURATION_CHOICE = "request_duration"
    DURATION_TYPED = "request_duration_typed"
    REASON = "request_reason"
