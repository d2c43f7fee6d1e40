"""A missing witness is a failure (issue 25, item 1): `renkei audit verify` as a real
process fails when the anchor store is missing, empty, cut, or unusable as deployed; a crash
between a commit and its anchor is the one gap it accepts, and `renkei audit anchor` closes it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from shared.config import load_project_set
from shared.deploy import write_production_settings
from shared.trust import keys
from tests.builders import Trained
from tests.conftest import REPO
from tests.trust.conftest import renkei, renkei_process
from tests.trust.test_audit_verify import _released, _rewrite_chain

pytestmark = pytest.mark.slow


def _anchor_file(t: Trained) -> Path:
    return Path(t.cfg.storage.data_root) / "audit-anchors.jsonl"


def _ok(t: Trained, *args: str) -> None:
    out = renkei(t, *args)
    assert out.exit_code == 0, out.output


def test_a_deleted_anchor_file_fails_verify_and_cannot_be_re_anchored(trained: Trained) -> None:
    t = trained
    _released(t)
    ok = renkei_process(t, "audit", "verify")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    first = t.ledger.audit.entries()[0]
    _rewrite_chain(t.ledger.engine.url.database, first.id, first.actor)  # no state row shows it
    _anchor_file(t).unlink()  # the attack: the rewrite, and the witness removed
    bad = renkei_process(t, "audit", "verify")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "no anchors in file" in bad.stderr and "(missing or empty)" in bad.stderr, bad.stderr
    assert "restore the anchor store" in bad.stderr
    # an anchor never vouches for such a chain: audit anchor refuses and writes nothing
    refused = renkei_process(t, "audit", "anchor")
    assert refused.returncode == 1 and "nothing anchored" in refused.stderr, refused.stderr
    assert not _anchor_file(t).exists()
    _anchor_file(t).write_text("")  # an empty store is no better than none
    assert renkei_process(t, "audit", "verify").returncode == 1


def test_an_anchor_file_cut_to_its_first_three_lines_fails_verify(trained2: Trained) -> None:
    t = trained2
    v1, v2 = t.candidates
    for v in (v1, v2):
        for who in ("kenji", "yui"):
            _ok(t, "approve", v, "--as", who, "--comment", "ok")
        if v == v1:
            _ok(t, "promote", v1, "--to", "production", "--as", "sora", "--reason", "go")
    lines = _anchor_file(t).read_text().splitlines()
    assert len(lines) == 5  # one per CLI write
    last = t.ledger.audit.entries()[-1].id
    _rewrite_chain(t.ledger.engine.url.database, last, "yui")  # no state row shows it
    _anchor_file(t).write_text("\n".join(lines[:3]) + "\n")
    third = json.loads(lines[2])["last_id"]
    bad = renkei_process(t, "audit", "verify")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert f"entries {third + 1}..{last} ({last - third}) come after the last anchor" in bad.stderr
    assert "a crash between a commit and its anchor leaves at most 1" in bad.stderr, bad.stderr


def test_a_crash_between_a_commit_and_its_anchor_is_caught_up_signed(trained: Trained) -> None:
    t = trained
    [v] = t.candidates
    _ok(t, "approve", v, "--as", "kenji", "--comment", "ok")
    crashed = renkei_process(
        t,
        "approve",
        v,
        "--as",
        "yui",
        "--comment",
        "ok",
        env={"RENKEI_INJECT_FAULT": "anchor-kill"},
    )
    assert crashed.returncode == -9, crashed.stdout + crashed.stderr  # killed after the commit
    last = t.ledger.audit.entries()[-1]
    assert last.action == "model.approve" and last.actor == "yui"
    anchored = [json.loads(x)["last_id"] for x in _anchor_file(t).read_text().splitlines()]
    assert last.id not in anchored
    ok = renkei_process(t, "audit", "verify")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert f"entries {last.id}..{last.id} come after the last anchor" in ok.stdout, ok.stdout
    caught = renkei_process(t, "audit", "anchor")
    assert caught.returncode == 0, caught.stdout + caught.stderr
    assert f"anchored entries {last.id}..{last.id}" in caught.stdout, caught.stdout
    cp = json.loads(_anchor_file(t).read_text().splitlines()[-1])
    assert cp["last_id"] == last.id and cp["last_hash"] == last.hash
    statement = {k: cp[k] for k in ("last_id", "last_hash", "time")}
    assert keys.verify(cp["public_key"], statement, cp["signature"])  # signed by the ledger key
    after = renkei_process(t, "audit", "verify")
    assert after.returncode == 0 and f"anchored up to entry {last.id}" in after.stdout
    assert "come after the last anchor" not in after.stdout, after.stdout
    again = renkei_process(t, "audit", "anchor")
    assert again.returncode == 0 and "nothing to anchor" in again.stdout, again.stdout


def test_the_production_settings_as_deployed_without_an_anchor_store_fail_verify(
    trained: Trained, tmp_path: Path
) -> None:
    """As deployed today: the S3 data root, the local anchor store copied from the demo's
    roles.yaml; no anchor can be written, and verify used to call that OK."""
    t = trained
    _released(t)
    aws = yaml.safe_load((REPO / "config" / "aws.yaml").read_text())
    aws["anchors"] = None  # as before the deploy wrote production's anchor bucket (issue 25)
    (tmp_path / "aws.yaml").write_text(yaml.safe_dump(aws, sort_keys=False))
    production = write_production_settings(
        tmp_path / "production", load_project_set(t.project_path), tmp_path / "aws.yaml"
    ).parent
    ledger = ["--ledger", str(t.ledger.engine.url)]
    bad = renkei_process(t, *ledger, "audit", "verify", project=production)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "no anchor store: a local anchor file needs a local data root" in bad.stderr
