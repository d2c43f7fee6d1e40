"""A shadow challenger: `renkei shadow` (signed, audited, Release role), its answers recorded
beside production's in batch scoring and online and never returned, and the comparison on
arrived labels (paired bootstrap CI) that tells a truly better challenger from an equal one."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from shared.cli import cli
from shared.config import load_project
from shared.data.generator import generate_orders
from shared.ledger.releases import shadow_alias
from shared.ledger.trust import TrustRecords
from shared.monitor.shadow import ShadowVerdict, compare
from shared.operate.captured import read_capture
from shared.operate.scoring import fresh_batch_start
from shared.release import load_alias
from tests.conftest import REPO, stop_process, wait_for_http
from tests.flows.helpers import MONITOR, SCORE, run_flow
from tests.service.test_capture import _settled, served
from tests.service.test_http import start_service


def _answers(seed: int, rows: int, champion_sd: float, challenger_sd: float) -> pd.DataFrame:
    """Generated orders with their true minutes, and two models' answers around them."""
    g = generate_orders(rows, seed=seed)
    y = g.labels["delivery_minutes"].to_numpy(float)
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "value": y,
            "prediction": y + rng.normal(0, champion_sd, rows),
            "shadow_prediction": y + rng.normal(0, challenger_sd, rows),
            "decision": "model",
            "shadow_decision": np.where(rng.random(rows) < 0.1, "fallback", "model"),
            "zone": g.orders["zone"].to_numpy(),
            "rain": g.orders["rain"].to_numpy(),
            "source": "batch",
        }
    )


def test_the_comparison_detects_a_better_challenger_and_does_not_declare_an_equal_one() -> None:
    cfg = load_project(REPO / "config" / "project.yaml")
    better = [
        compare(_answers(s, 800, 8.0, 6.0), cfg, "v1", "v2", seed=s).overall.verdict
        for s in range(30)
    ]
    equal = [
        compare(_answers(s, 800, 8.0, 8.0), cfg, "v1", "v2", seed=s).overall.verdict
        for s in range(30)
    ]
    assert better.count(ShadowVerdict.BETTER) >= 28, better
    assert equal.count(ShadowVerdict.BETTER) + equal.count(ShadowVerdict.WORSE) <= 3, equal
    c = compare(_answers(99, 800, 8.0, 6.0), cfg, "v1", "v2", seed=1)
    o = c.overall
    assert o.ci_low < o.difference < o.ci_high < 0 and o.rows == 800
    assert o.challenger < o.champion and c.error == "absolute error"
    assert {"zone=north", "rain=True", "rain=False"} <= set(c.slices)
    assert c.guard_rates["champion"] == 0.0 and 0.05 < c.guard_rates["challenger"] < 0.15
    few = compare(_answers(1, 20, 8.0, 6.0), cfg, "v1", "v2").overall
    assert few.verdict == ShadowVerdict.NOT_ENOUGH_ROWS and few.difference is None


@pytest.mark.slow
def test_a_shadow_answers_in_batch_and_online_is_recorded_never_returned_and_compared(
    tmp_path: Path,
) -> None:
    t = served(tmp_path, runs=2, flush_seconds=0.2)
    v1, v2 = t.candidates

    def renkei(*args: str, ok: bool = True) -> str:
        out = CliRunner().invoke(cli, ["--project", str(t.project_path), *args])
        assert (out.exit_code == 0) == ok, out.output
        return out.output

    # only a Release/Deploy role attaches; the move is signed and audited
    assert "may not attach" in renkei("shadow", v2, "--as", "mina", ok=False)
    assert "already serves" in renkei("shadow", v1, "--as", "sora", ok=False)
    assert f"{v2} now shadows production" in renkei("shadow", v2, "--as", "sora")
    shadow = t.ledger.releases.alias(shadow_alias("production"))
    assert shadow.version == v2 and t.ledger.releases.alias("production").version == v1
    [move] = t.ledger.releases.history(shadow_alias("production"))
    sig = TrustRecords(t.ledger).signatures("alias_move")[("alias_move", move.id)]
    assert sig.statement["action"] == "shadow" and sig.statement["version"] == v2
    assert "alias.shadow" in [e.action for e in t.ledger.audit.entries()]
    _, challenger = load_alias(t.ledger, shadow_alias("production"), keys=t.keys)

    # batch scoring: both answers recorded, production's is the answer
    g = generate_orders(600, seed=5, start=fresh_batch_start(), days=1, id_prefix="b")
    src = tmp_path / "batch.csv"
    g.orders.to_csv(src, index=False)
    _, status, stdout, _ = run_flow(SCORE, t.project_path, source=str(src), partition_rows=250)
    assert status == "successful", stdout
    [batch] = t.ledger.operations.scoring_batches()
    out = pd.read_parquet(batch.output_uri)
    assert batch.version == v1 and (out["model_version"] == v1).all()
    assert (out["shadow_version"] == v2).all()
    expected = challenger.predict(g.orders)
    np.testing.assert_allclose(out["shadow_prediction"], expected["prediction"])
    assert list(out["shadow_decision"]) == list(expected["decision"])
    assert not np.allclose(out["prediction"].fillna(0), out["shadow_prediction"].fillna(0))

    # online: the response is production's alone; the capture holds both
    online = generate_orders(300, seed=6, start=fresh_batch_start(), days=1, id_prefix="o")
    rows = json.loads(online.orders.drop(columns=["created_at"]).to_json(orient="records"))
    proc, base, _ = start_service(t.project_path)
    try:
        wait_for_http(f"{base}/health", proc)
        with httpx.Client(base_url=base, timeout=10, trust_env=False) as c:
            assert c.get("/health").json()["shadow"]["model_version"] == v2
            replies = [c.post("/predict", json=rows[i : i + 50]).json() for i in range(0, 300, 50)]
            _settled(c, 300)
    finally:
        stop_process(proc)
    for reply in replies:
        assert reply["model_version"] == v1 and "shadow" not in json.dumps(reply)
    captured = read_capture(t.cfg.storage.data_root)
    assert len(captured) == 300 and (captured["model_version"] == v1).all()
    assert (captured["shadow_version"] == v2).all() and captured["shadow_prediction"].notna().any()
    assert (captured["shadow_deployment_id"] == shadow.id).all()

    # labels for both arrive; the monitor flow compares champion and challenger
    labels = pd.concat([g.labels, online.labels])[["order_id", "delivery_minutes"]]
    labels.to_csv(tmp_path / "labels.csv", index=False)
    assert "900 accepted" in renkei("feedback", str(tmp_path / "labels.csv"), "--as", "ren")
    _, status, stdout, stderr = run_flow(MONITOR, t.project_path, window=1)
    assert status == "successful", stdout + stderr
    [report] = t.ledger.monitoring.reports()
    [check] = [c for c in report.checks if c["kind"] == "shadow"]
    ev = check["evidence"]
    assert ev["champion"] == v1 and ev["challenger"] == v2
    assert ev["sources"]["batch"] > 400 and ev["sources"]["online"] > 200
    assert ev["overall"]["ci_low"] <= ev["overall"]["difference"] <= ev["overall"]["ci_high"]
    assert set(ev["guard_rates"]) == {"champion", "challenger"} and ev["slices"]
    assert f"shadow:{v2}" in stdout
    # an approval of the challenger shows the evidence and records that it was seen
    said = renkei("approve", v2, "--as", "kenji", "--comment", "shadow says better or same")
    assert "shadow evidence (monitoring report" in said and f"{v2} vs {v1}" in said
    seen = [e for e in t.ledger.audit.entries() if e.action == "model.shadow_evidence_seen"]
    assert [(e.actor, e.subject) for e in seen] == [("kenji", v2)]

    # --off detaches it (signed and audited as well)
    assert f"{v2} no longer shadows production" in renkei("shadow", "--off", "--as", "sora")
    assert t.ledger.releases.alias(shadow_alias("production")) is None
    assert "alias.detach" in [e.action for e in t.ledger.audit.entries()]
    assert "no shadow challenger" in renkei("shadow", "--off", "--as", "sora", ok=False)


@pytest.mark.slow
def test_promoting_the_shadow_detaches_it_signed_and_audited_instead_of_self_comparison(
    tmp_path: Path,
) -> None:
    from tests.builders import build

    t = build(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}", runs=2)
    v1, v2 = t.candidates

    def renkei(*args: str) -> str:
        out = CliRunner().invoke(cli, ["--project", str(t.project_path), *args])
        assert out.exit_code == 0, out.output
        return out.output

    for v in (v1, v2):
        for who in ("kenji", "yui"):
            renkei("approve", v, "--as", who, "--comment", "ok")
    said = renkei("promote", v1, "--as", "sora")
    assert "no longer shadows" not in said
    renkei("shadow", v2, "--as", "sora")
    said = renkei("promote", v2, "--as", "sora", "--reason", "the shadow did well")
    assert f"production now serves {v2} (was {v1})" in said
    assert f"{v2} no longer shadows production: {v2} promoted to production" in said, said
    assert t.ledger.releases.alias(shadow_alias("production")) is None
    assert t.ledger.releases.alias("production").version == v2
    attach, detach = t.ledger.releases.history(shadow_alias("production"))
    assert (attach.action, detach.action, detach.version) == ("shadow", "detach", v2)
    assert detach.actor == "sora"
    sig = TrustRecords(t.ledger).signatures("alias_move")[("alias_move", detach.id)]
    assert sig.statement["version"] == v2
    actions = [e.action for e in t.ledger.audit.entries()]
    assert actions.index("alias.detach") > max(
        i for i, a in enumerate(actions) if a == "alias.promote"
    )
    assert "state tables agree with the chain" in renkei("audit", "verify")
    # a rollback onto a version that is not the shadow leaves nothing to detach
    assert "no longer shadows" not in renkei("rollback", "--as", "sora")
