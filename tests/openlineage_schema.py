"""Validating OpenLineage run events against the specification's JSON Schema and standard
facets, copied into tests/specs/openlineage/ (Apache-2.0, see its README and LICENSE): every
``$id`` (https://openlineage.io/spec/...) is resolved to the file of that name there, never
fetched."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

SPEC = Path(__file__).resolve().parent / "specs" / "openlineage"


@cache
def _schemas() -> tuple[Registry, dict[str, Any], dict[str, dict[str, Any]]]:
    """The registry of every schema by its ``$id``, the run-event schema, and each facet's
    schema by the key it takes in an event (``schema``, ``parent``, ...)."""
    files = [SPEC / "OpenLineage.json", *sorted((SPEC / "facets").glob("*.json"))]
    registry: Registry = Registry()
    facets: dict[str, dict[str, Any]] = {}
    for f in files:
        doc = json.loads(f.read_text())
        registry = registry.with_resource(doc["$id"], Resource.from_contents(doc))
        for key in doc.get("properties", {}) if f.parent.name == "facets" else ():
            facets[key] = doc
    main = json.loads((SPEC / "OpenLineage.json").read_text())
    return registry, main, facets


def _check(schema: dict[str, Any], instance: Any, registry: Registry) -> list[str]:
    v = Draft202012Validator(
        schema, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in v.iter_errors(instance)]


def event_errors(event: dict[str, Any]) -> list[str]:
    """What is wrong with ``event`` as an OpenLineage RunEvent: against the run-event schema,
    and each facet against its own standard facet's schema (a facet whose key no standard
    facet has, or whose _schemaURL is not that facet's file, is an error too)."""
    registry, main, facets = _schemas()
    run_event = {"$ref": f"{main['$id']}#/$defs/RunEvent"}
    errors = _check(run_event, event, registry)
    groups = [("run", event["run"].get("facets", {})), ("job", event["job"].get("facets", {}))]
    for side in ("inputs", "outputs"):
        for i, ds in enumerate(event.get(side, [])):
            for kind in ("facets", "inputFacets", "outputFacets"):
                groups.append((f"{side}/{i}/{kind}", ds.get(kind, {})))
    for where, group in groups:
        for key, facet in group.items():
            doc = facets.get(key)
            if doc is None:
                errors.append(f"{where}/{key}: no standard facet of that name")
                continue
            if not facet.get("_schemaURL", "").startswith(doc["$id"] + "#"):
                errors.append(
                    f"{where}/{key}: _schemaURL {facet.get('_schemaURL')} is not {doc['$id']}"
                )
            errors += [f"{where}/{e}" for e in _check(doc, {key: facet}, registry)]
    return errors
