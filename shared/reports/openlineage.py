"""A flow run as an OpenLineage run event (START, COMPLETE, FAIL), read from the ledger.

The event says what the ledger says about the run, and nothing else: its inputs and outputs
are the raw files, dataset versions (schema, the validation's checks with the failures of
each, row counts), model versions and scoring outputs recorded with the run's pathspec, so a
lineage catalog shows what `renkei lineage` shows. Events are plain JSON-ready dicts in the
OpenLineage 2-0-2 run-event format with standard facets; sending them is
shared.flowkit.openlineage's. Job namespace: the project's name; job name: the flow; run id:
a UUID derived from the Metaflow pathspec, so every event of a run (from any step, on any
machine) and a parent-run facet naming it agree without being told.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from shared.config import ProjectConfig
from shared.ledger import DatasetRecord, Ledger, ModelVersionRecord

SPEC = "https://openlineage.io/spec"
RUN_EVENT_SCHEMA = f"{SPEC}/2-0-2/OpenLineage.json#/$defs/RunEvent"
# each standard facet this module writes: its key in the event -> its schema (file $id + def)
FACETS = {
    "jobType": "2-0-4/JobTypeJobFacet",
    "parent": "1-2-0/ParentRunFacet",
    "errorMessage": "1-0-1/ErrorMessageRunFacet",
    "processing_engine": "1-1-1/ProcessingEngineRunFacet",
    "schema": "1-2-0/SchemaDatasetFacet",
    "version": "1-0-1/DatasetVersionDatasetFacet",
    "datasetType": "1-0-1/DatasetTypeDatasetFacet",
    "dataQualityAssertions": "1-1-0/DataQualityAssertionsDatasetFacet",
    "inputStatistics": "1-0-0/InputStatisticsInputDatasetFacet",
    "outputStatistics": "1-0-2/OutputStatisticsOutputDatasetFacet",
}
# a feature's type in project.yaml -> the type a schema facet names
FIELD_TYPES = {"float": "double", "int": "integer", "bool": "boolean", "category": "string"}


class EventType(StrEnum):
    START = "START"
    COMPLETE = "COMPLETE"
    FAIL = "FAIL"


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "unknown"


PRODUCER = f"https://github.com/renkei-mlops/renkei/tree/v{_version('renkei')}"


def run_uuid(namespace: str, pathspec: str) -> str:
    """The run id of Metaflow run ``pathspec`` (``Flow/run-id``) of project ``namespace``:
    the same in every step's process and in a child run's parent facet."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"metaflow://{namespace}/{pathspec}"))


def dataset_name(uri: str) -> tuple[str, str]:
    """(namespace, name) of a storage location by OpenLineage's naming: ``s3://bucket``
    and the key; ``file`` and the absolute path."""
    if "://" in uri:
        scheme, rest = uri.split("://", 1)
        bucket, _, key = rest.partition("/")
        return f"{scheme}://{bucket}", key or "/"
    import os

    return "file", os.path.abspath(uri)


def _facet(key: str, **fields: Any) -> dict[str, Any]:
    path = FACETS[key]
    definition = path.rsplit("/", 1)[1]
    return {
        "_producer": PRODUCER,
        "_schemaURL": f"{SPEC}/facets/{path}.json#/$defs/{definition}",
        **{k: v for k, v in fields.items() if v is not None},
    }


def _dataset(uri: str, facets: dict[str, Any] | None = None, **io: Any) -> dict[str, Any]:
    namespace, name = dataset_name(uri)
    return {"namespace": namespace, "name": name, "facets": facets or {}, **io}


def _schema(cfg: ProjectConfig) -> dict[str, Any]:
    fields = [{"name": cfg.id_column, "type": "string"}]
    if cfg.timestamp_column:
        fields.append({"name": cfg.timestamp_column, "type": "timestamp"})
    fields += [
        {"name": n, "type": FIELD_TYPES.get(f.type, "string")} for n, f in cfg.features.items()
    ]
    return _facet("schema", fields=fields)


def _dataset_facets(cfg: ProjectConfig, d: DatasetRecord) -> dict[str, Any]:
    return {"schema": _schema(cfg), "version": _facet("version", datasetVersion=d.version)}


def _model(m: ModelVersionRecord) -> dict[str, Any]:
    return _dataset(
        m.artifact_uri,
        {
            "version": _facet("version", datasetVersion=m.version),
            "datasetType": _facet("datasetType", datasetType="MODEL", subType=m.family),
        },
    )


def _assertions(ledger: Ledger, cfg: ProjectConfig, version: str, report: Any) -> dict:
    """The validation's checks that found bad rows, each with its count of failing rows, and
    the batch-level check (the valid fraction against validation.min_valid_fraction)."""
    checks = ledger.datasets.quarantine(version).by_check if report.rows_quarantined else []
    items = [
        {
            "assertion": c.check,
            "column": c.column,
            "success": False,
            "expected": "0",
            "actual": str(c.rows),
            "params": {"failures": c.rows},
        }
        for c in checks
    ]
    fraction = report.rows_valid / report.rows_in if report.rows_in else 0.0
    minimum = cfg.validation.min_valid_fraction
    items.append(
        {
            "assertion": "min_valid_fraction",
            "success": fraction >= minimum,
            "expected": f">= {minimum:g}",
            "actual": f"{fraction:.4f}",
            "params": {"failures": report.rows_quarantined},
        }
    )
    return _facet("dataQualityAssertions", assertions=items)


def run_io(
    ledger: Ledger, cfg: ProjectConfig, pathspec: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(inputs, outputs) of run ``pathspec`` as the ledger records them: an ingest's raw
    file(s) -> dataset version and quarantine; a training's dataset versions -> model
    versions; a scoring's raw input and model version -> scoring output; a monitoring's
    scoring outputs and model version. Empty before the run has recorded anything."""
    inputs: dict[tuple[str, str], dict] = {}
    outputs: dict[tuple[str, str], dict] = {}

    def add(into: dict, ds: dict[str, Any]) -> None:
        into.setdefault((ds["namespace"], ds["name"]), ds)

    for r in ledger.datasets.reports():
        if r.flow_run != pathspec:
            continue
        d = ledger.datasets.get(r.dataset_version)
        add(
            inputs,
            _dataset(
                d.raw_uri,
                {"schema": _schema(cfg)},
                inputFacets={
                    "dataQualityAssertions": _assertions(ledger, cfg, d.version, r),
                    "inputStatistics": _facet("inputStatistics", rowCount=r.rows_in),
                },
            ),
        )
        stats = _facet("outputStatistics", rowCount=r.rows_valid)
        add(
            outputs,
            _dataset(d.location, _dataset_facets(cfg, d), outputFacets={"outputStatistics": stats}),
        )
        if r.rows_quarantined:
            q = _facet("outputStatistics", rowCount=r.rows_quarantined)
            add(outputs, _dataset(r.quarantine_uri, outputFacets={"outputStatistics": q}))
    for m in ledger.registry.models():
        if m.flow_run != pathspec:
            continue
        for v in m.datasets:
            d = ledger.datasets.get(v)
            add(inputs, _dataset(d.location, _dataset_facets(cfg, d)))
        add(outputs, _model(m))
    batches = {b.id: b for b in ledger.operations.scoring_batches()}
    for b in batches.values():
        if b.flow_run != pathspec:
            continue
        add(inputs, _dataset(b.input_uri, {"schema": _schema(cfg)}))
        add(inputs, _model(ledger.registry.model(b.version)))
        stats = _facet("outputStatistics", rowCount=b.rows)
        add(outputs, _dataset(b.output_uri, outputFacets={"outputStatistics": stats}))
    for rep in ledger.monitoring.reports():
        if rep.flow_run != pathspec:
            continue
        add(inputs, _model(ledger.registry.model(rep.version)))
        for i in rep.batches:
            if i in batches:
                add(inputs, _dataset(batches[i].output_uri))
    return list(inputs.values()), list(outputs.values())


def run_event(
    ledger: Ledger | None,
    cfg: ProjectConfig,
    pathspec: str,
    event_type: EventType,
    *,
    parent: str | None = None,
    error: str | None = None,
    when: datetime | None = None,
) -> dict[str, Any]:
    """The OpenLineage run event of Metaflow run ``pathspec`` (``Flow/run-id``) of project
    ``cfg``: START (no datasets yet), COMPLETE or FAIL (``error``: the one-line reason) with
    the run's inputs and outputs from ``ledger``; ``parent``: the pathspec of the run that
    started this one (the monitor's, for a retraining)."""
    namespace, flow = cfg.name, pathspec.split("/", 1)[0]
    run_facets: dict[str, Any] = {
        "processing_engine": _facet(
            "processing_engine",
            name="Metaflow",
            version=_version("metaflow"),
            openlineageAdapterVersion=_version("renkei"),
        )
    }
    if parent:
        p_ns, p_flow = namespace, parent.split("/", 1)[0]
        p_id = run_uuid(namespace, parent)
        run_facets["parent"] = _facet(
            "parent",
            run={"runId": p_id},
            job={"namespace": p_ns, "name": p_flow},
            root={"run": {"runId": p_id}, "job": {"namespace": p_ns, "name": p_flow}},
        )
    if error is not None:
        run_facets["errorMessage"] = _facet(
            "errorMessage", message=error, programmingLanguage="python"
        )
    inputs, outputs = (
        ([], [])
        if event_type == EventType.START or ledger is None
        else run_io(ledger, cfg, pathspec)
    )
    job_type = _facet("jobType", processingType="BATCH", integration="METAFLOW", jobType="FLOW")
    return {
        "eventType": EventType(event_type).value,
        "eventTime": (when or datetime.now(UTC)).isoformat(),
        "producer": PRODUCER,
        "schemaURL": RUN_EVENT_SCHEMA,
        "run": {"runId": run_uuid(namespace, pathspec), "facets": run_facets},
        "job": {"namespace": namespace, "name": flow, "facets": {"jobType": job_type}},
        "inputs": inputs,
        "outputs": outputs,
    }
