"""Every `renkei` listing prints a table for people and the same records as JSON with
`--json` (one output helper, shared/cli/output.py), on a ledger with a released model."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from shared.cli import cli
from tests.builders import build, release


def test_every_listing_prints_a_table_or_json(tmp_path: Path) -> None:
    t = build(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}", runs=1)
    [v] = t.candidates
    release(t.ledger, t.roles, t.cfg, t.rules, v)
    dataset = t.ledger.datasets.all()[0].version

    def renkei(*args: str) -> str:
        out = CliRunner().invoke(cli, ["--project", str(t.project_path), *args])
        assert out.exit_code == 0, out.output
        return out.output

    # command -> (a header of its table, how many records its JSON holds)
    listings = {
        ("datasets",): ("quarantined", 1),
        ("models",): ("trained on", len(t.ledger.registry.models())),
        ("history",): ("alias", 1),
        ("audit", "log"): ("subject", len(t.ledger.audit.entries())),
    }
    for cmd, (header, n) in listings.items():
        assert header in renkei(*cmd), cmd
        records = json.loads(renkei(*cmd, "--json"))
        assert isinstance(records, list) and len(records) == n, (cmd, records)
    assert json.loads(renkei("models", "--json"))[0]["version"].startswith("v")
    quarantine = json.loads(renkei("quarantine", dataset, "--json"))
    assert quarantine["rows_quarantined"] > 0 and quarantine["by_check"][0]["examples"]
    assert f"rows quarantined in {dataset}" in renkei("quarantine", dataset)
    assert json.loads(renkei("lineage", v, "--json"))["version"] == v
    costs = json.loads(renkei("costs", "--json"))
    assert v in {m["version"] for m in costs["per_model"]}
    assert "break-even" in renkei("costs")
    assert json.loads(renkei("monitoring", "--json")) == []
    assert renkei("monitoring").startswith("No monitoring runs yet")
