"""The replay table: which audit action produces which state rows, and how to compare them.

``ACTIONS`` maps every audit action Renkei writes to the state tables it writes rows of (or
changes rows of). ``RULES`` says, per replayed table, how to read its rows and what the
entries of the actions that write it say those rows must be; ``CHAIN_ONLY`` names the
tables whose rows are covered by the chain's entries only (too many rows to replay one by
one), with why. ``coverage_problems`` holds the table to itself: an action writing a table
with no rule, or a ledger table nobody accounts for, is a problem, never passed silently.
"""

from __future__ import annotations

from shared.ledger.tables import (
    ApiToken,  # noqa: F401 (its tables in Base.metadata)
    Base,
)
from shared.trust.replay_records import RECORD_RULES
from shared.trust.replay_release import RELEASE_RULES, Event, Item, Rule

__all__ = [
    "ACTIONS",
    "CHAIN_ONLY",
    "RULES",
    "Event",
    "Item",
    "Rule",
    "coverage_problems",
    "writers",
]

# every audit action -> the state tables whose rows it writes (empty: it writes none)
ACTIONS: dict[str, tuple[str, ...]] = {
    "dataset.ingest": ("datasets", "validation_reports", "quarantines"),
    "labels.record": ("label_batches",),
    "run.start": ("flow_runs",),
    "run.succeeded": ("flow_runs",),
    "run.failed": ("flow_runs",),
    "model.register": ("model_versions", "model_datasets"),
    "model.approve": ("approvals",),
    "model.reject": ("approvals",),
    # that an approver saw the shadow evidence (shared.monitor.shadow.SEEN): the entry is all
    "model.shadow_evidence_seen": (),
    "alias.promote": ("deployments", "alias_history", "aliases"),
    "alias.rollback": ("alias_history", "aliases"),
    "alias.shadow": ("deployments", "alias_history", "aliases"),
    "alias.detach": ("alias_history", "aliases"),
    "scoring.batch": ("scoring_batches",),
    "feedback.record": ("feedback_batches", "feedback"),
    "monitoring.report": ("monitoring_reports",),
    "retrain.triggered": ("monitoring_reports",),
    # an alias's interval quantile moved by arriving labels (shared.model.adaptive)
    "intervals.adapt": ("interval_updates",),
    "token.create": ("api_tokens",),
    "token.revoke": ("api_tokens",),
    # the keys' history (shared.trust.key_history): the entry is the record
    "key.rotate": (),
    "key.revoke": (),
    "release_key.rotate": (),
}

# tables covered by the chain only, and why
CHAIN_ONLY: dict[str, str] = {
    "quarantines": "one row per failed check; their count is in the validation report",
    "feedback": "one row per label; the counts per status are in the feedback batch",
}

# tables that are not state produced by audited actions
NOT_STATE: dict[str, str] = {
    "audit_log": "the chain itself",
    "audit_head": "the chain's head, checked by the chain",
    "signatures": "every decision's signature is verified against its state row",
}


RULES: dict[str, Rule] = {**RELEASE_RULES, **RECORD_RULES}


def writers(table: str) -> set[str]:
    """The audit actions that write rows of ``table``."""
    return {a for a, tables in ACTIONS.items() if table in tables}


def coverage_problems(tables: list[str] | None = None) -> list[str]:
    """The table against itself and the ledger's tables: an action writing a table no rule
    replays, or a ledger table no action writes and nothing declares, is a problem."""
    problems = []
    for action, written in ACTIONS.items():
        for t in written:
            if t not in RULES and t not in CHAIN_ONLY:
                problems.append(f"action {action!r} writes {t} but no replay rule covers {t}")
    known = set(RULES) | set(CHAIN_ONLY) | set(NOT_STATE)
    for t in tables if tables is not None else sorted(Base.metadata.tables):
        if t not in known:
            problems.append(f"table {t} has no replay rule and no audit action writes it")
    for t in RULES:
        if not writers(t):
            problems.append(f"replay rule for {t}: no audit action in the table writes it")
    return problems
