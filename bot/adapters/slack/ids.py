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


class View(StrEnum):
    DENY_REASON = "eks_access.deny_reason"
    EXTEND = "eks_access.extend"


class Field(StrEnum):
    REASON_BLOCK = "reason"
    REASON_INPUT = "reason_input"
    DURATION_BLOCK = "duration"
    DURATION_INPUT = "duration_input"
