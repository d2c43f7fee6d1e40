"""Replay rules of the data and operation tables: datasets and validation reports, label
batches, flow runs, scoring batches, feedback batches, monitoring reports, adaptive interval
updates and API tokens (what the flows, `renkei feedback` and `renkei tokens` write)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from shared.ledger.tables import (
    ApiToken,
    Dataset,
    FeedbackBatch,
    FlowRun,
    IntervalUpdate,
    LabelBatch,
    MonitoringReport,
    ScoringBatch,
    ValidationReport,
)
from shared.trust.replay_release import Event, Item, Rule, rows_of

_COUNTS = ("rows_in", "rows_valid", "rows_quarantined")


def _datasets(s: Session) -> list[Item]:
    return [
        (
            d.version,
            d.version,
            {**{k: getattr(d, k) for k in _COUNTS}, "raw": d.raw_sha256, "actor": d.created_by},
        )
        for d in rows_of(s, Dataset, Dataset.created_at, Dataset.version)
    ]


def _dataset_entries(events: list[Event]) -> list[Item]:
    return [
        (
            e.id,
            e.subject,
            {**{k: d.get(k) for k in _COUNTS}, "raw": d.get("raw_sha256"), "actor": e.actor},
        )
        for e, d in events
        if d.get("new_version")
    ]


def _reports(s: Session) -> list[Item]:
    return [
        (
            r.id,
            r.id,
            {
                "dataset": r.dataset_version,
                **{k: getattr(r, k) for k in _COUNTS},
                "passed": r.passed,
                "actor": r.created_by,
            },
        )
        for r in rows_of(s, ValidationReport, ValidationReport.id)
    ]


def _report_entries(events: list[Event]) -> list[Item]:
    return [
        (
            e.id,
            d.get("report_id"),
            {
                "dataset": e.subject,
                **{k: d.get(k) for k in _COUNTS},
                "passed": d.get("passed"),
                "actor": e.actor,
            },
        )
        for e, d in events
    ]


def _labels(s: Session) -> list[Item]:
    return [
        (b.id, (b.uri, b.dataset_version), {"rows": b.rows, "actor": b.recorded_by})
        for b in rows_of(s, LabelBatch, LabelBatch.id)
    ]


def _label_entries(events: list[Event]) -> list[Item]:
    return [
        (e.id, (e.subject, d.get("dataset_version")), {"rows": d.get("rows"), "actor": e.actor})
        for e, d in events
    ]


def _runs(s: Session) -> list[Item]:
    return [
        (r.id, r.pathspec, {"status": r.status, "user": r.user})
        for r in rows_of(s, FlowRun, FlowRun.id)
    ]


def _run_entries(events: list[Event]) -> list[Item]:
    runs: dict[str, Item] = {}
    for e, _d in events:
        status = e.action.split(".", 1)[1]
        if e.action == "run.start":
            runs[e.subject] = (e.id, e.subject, {"status": "running", "user": e.actor})
        elif e.subject in runs:
            runs[e.subject][2]["status"] = status
        else:  # a finish with no start: the row must still exist
            runs[e.subject] = (e.id, e.subject, {"status": status, "user": e.actor})
    return list(runs.values())


def _batches(s: Session) -> list[Item]:
    return [
        (
            b.id,
            f"batch-{b.id}",
            {"version": f"v{b.model_id}", "rows": b.rows, "actor": b.created_by},
        )
        for b in rows_of(s, ScoringBatch, ScoringBatch.id)
    ]


def _batch_entries(events: list[Event]) -> list[Item]:
    return [
        (e.id, e.subject, {"version": d.get("version"), "rows": d.get("rows"), "actor": e.actor})
        for e, d in events
    ]


_STATUSES = {
    "accepted": "accepted",
    "late": "late",
    "duplicates": "duplicate",
    "unknown": "unknown",
    "invalid": "invalid",
}


def _feedback(s: Session) -> list[Item]:
    return [
        (b.id, b.source, {**{k: getattr(b, k) for k in _STATUSES}, "actor": b.actor})
        for b in rows_of(s, FeedbackBatch, FeedbackBatch.id)
    ]


def _feedback_entries(events: list[Event]) -> list[Item]:
    return [
        (e.id, e.subject, {**{k: d.get(v, 0) for k, v in _STATUSES.items()}, "actor": e.actor})
        for e, d in events
    ]


def _monitoring(s: Session) -> list[Item]:
    return [
        (
            r.id,
            r.id,
            {"version": f"v{r.model_id}", "retrain": r.retrain, "retrain_run": r.retrain_run},
        )
        for r in rows_of(s, MonitoringReport, MonitoringReport.id)
    ]


def _monitoring_entries(events: list[Event]) -> list[Item]:
    reports: dict[Any, Item] = {}
    for e, d in events:
        if e.action == "monitoring.report":
            fields = {"version": e.subject, "retrain": d.get("retrain"), "retrain_run": None}
            reports[d.get("report")] = (e.id, d.get("report"), fields)
        elif d.get("report") in reports:  # retrain.triggered: the run it started
            reports[d.get("report")][2]["retrain_run"] = e.subject
    return list(reports.values())


def _tokens(s: Session) -> list[Item]:
    return [
        (t.id, t.name, {"actor": t.created_by, "revoked_by": t.revoked_by})
        for t in rows_of(s, ApiToken, ApiToken.id)
    ]


def _token_entries(events: list[Event]) -> list[Item]:
    tokens: dict[str, Item] = {}
    for e, _d in events:
        if e.action == "token.create":
            tokens[e.subject] = (e.id, e.subject, {"actor": e.actor, "revoked_by": None})
        elif e.subject in tokens:
            tokens[e.subject][2]["revoked_by"] = e.actor
    return list(tokens.values())


_ADAPT = ("labels", "covered", "old_factor", "new_factor", "old_quantile", "new_quantile")


def _intervals(s: Session) -> list[Item]:
    return [
        (
            u.id,
            u.id,
            {
                "alias": u.alias,
                "deployment": u.deployment_id,
                "version": f"v{u.model_id}",
                "feedback_batch": u.feedback_batch_id,
                **{k: getattr(u, k) for k in _ADAPT},
                "actor": u.actor,
            },
        )
        for u in rows_of(s, IntervalUpdate, IntervalUpdate.id)
    ]


def _interval_entries(events: list[Event]) -> list[Item]:
    return [
        (
            e.id,
            d.get("update"),
            {
                "alias": e.subject,
                "deployment": d.get("deployment"),
                "version": d.get("version"),
                "feedback_batch": d.get("feedback_batch"),
                **{k: d.get(k) for k in _ADAPT},
                "actor": e.actor,
            },
        )
        for e, d in events
    ]


RECORD_RULES: dict[str, Rule] = {
    "datasets": Rule(_datasets, _dataset_entries),
    "validation_reports": Rule(_reports, _report_entries),
    "label_batches": Rule(_labels, _label_entries),
    "flow_runs": Rule(_runs, _run_entries),
    "scoring_batches": Rule(_batches, _batch_entries),
    "feedback_batches": Rule(_feedback, _feedback_entries),
    "monitoring_reports": Rule(_monitoring, _monitoring_entries),
    "api_tokens": Rule(_tokens, _token_entries),
    "interval_updates": Rule(_intervals, _interval_entries),
}
