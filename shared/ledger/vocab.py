"""The ledger's vocabulary: its error, the domain enums and model-version labels.

The enums are ``StrEnum`` s, so stored values, JSON and comparisons with plain strings stay
the same strings they always were.
"""

from __future__ import annotations

from enum import StrEnum

from shared.config.errors import RenkeiError


class LedgerError(RenkeiError, RuntimeError):
    """The ledger cannot be reached or holds no such record."""


class ModelStatus(StrEnum):
    """What training decided about one trained family."""

    BASELINE = "baseline"
    CANDIDATE = "candidate"
    PASSED = "passed"
    REJECTED = "rejected"


class Alias(StrEnum):
    """Where a model version can be deployed."""

    STAGING = "staging"
    PRODUCTION = "production"


class Decision(StrEnum):
    """A reviewer's decision on a model version."""

    APPROVE = "approve"
    REJECT = "reject"


class AliasAction(StrEnum):
    """How an alias moved."""

    PROMOTE = "promote"
    ROLLBACK = "rollback"
    SHADOW = "shadow"  # a challenger attached beside an alias (renkei shadow)
    DETACH = "detach"  # the challenger taken off (renkei shadow --off)


class RunStatus(StrEnum):
    """A flow run's state in the ledger."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class FeedbackStatus(StrEnum):
    """What happened to one arriving true value."""

    ACCEPTED = "accepted"
    LATE = "late"
    DUPLICATE = "duplicate"
    UNKNOWN = "unknown"
    INVALID = "invalid"


def version_label(model_id: int) -> str:
    """A model version as users see it: ``v3``."""
    return f"v{model_id}"


def parse_version(version: str | int) -> int:
    """``v3``, ``V3``, ``3`` or ``3`` -> 3; anything else is a LedgerError."""
    text = str(version).strip().lower().removeprefix("v")
    if not text.isdigit():
        raise LedgerError(f"not a model version: {version!r} (expected e.g. v3)")
    return int(text)
