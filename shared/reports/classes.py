"""Multiclass versions in the app: the holdout's confusion matrix and per-class metrics
(kept with the version at training, ``classes.json``)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pandas as pd

from shared.ledger import ModelVersionRecord
from shared.model.multiclass import CLASSES_FILE
from shared.training import load_optional


@dataclass(frozen=True)
class ClassReport:
    confusion: pd.DataFrame  # rows: true class, columns: predicted class (counts)
    per_class: pd.DataFrame  # class, precision, recall, f1, support


def class_report(model: ModelVersionRecord) -> ClassReport | None:
    """The version's holdout confusion matrix and per-class table; None when it has none
    (not a multiclass version)."""
    raw = load_optional(model.artifact_uri, CLASSES_FILE)
    if raw is None:
        return None
    d = json.loads(raw)
    names = d["classes"]
    confusion = pd.DataFrame(
        d["confusion"],
        index=pd.Index([f"true {c}" for c in names], name="true class"),
        columns=[f"predicted {c}" for c in names],
    )
    return ClassReport(confusion, pd.DataFrame(d["per_class"]))
