"""Approvals, four eyes, promotion, rollback and racing promotions (SQLite and PostgreSQL)."""

from __future__ import annotations

import multiprocessing as mp
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared.data import storage
from shared.guard.bundle import load_bundle
from shared.ledger import Ledger
from shared.release import (
    ReleaseRefused,
    approval_status,
    load_alias,
    promote,
    review,
    rollback,
)
from tests.builders import build


@pytest.fixture
def trained(tmp_path: Path, ledger_url: str):
    return build(tmp_path, ledger_url)


def _approve_all(t, version: str) -> None:
    review(t.ledger, t.roles, version, "kenji", "looks right to me", "approve")
    review(t.ledger, t.roles, version, "yui", "risk acceptable", "approve")


def _promote(t, version: str, alias: str = "production", user: str = "sora"):
    return promote(t.ledger, t.roles, t.cfg, t.rules, version, alias, user, "test", "abc123")


def test_every_refusal_names_its_rule(trained) -> None:
    t = trained
    v = t.candidates[0]
    refusals = {
        "missing_role": lambda: review(t.ledger, t.roles, v, "emi", "fine", "approve"),
        "comment_required": lambda: review(t.ledger, t.roles, v, "kenji", "  ", "approve"),
        "not_a_candidate": lambda: review(t.ledger, t.roles, "v1", "kenji", "base", "approve"),
        "unknown_version": lambda: review(t.ledger, t.roles, "v99", "kenji", "x", "approve"),
        "missing_approvals": lambda: _promote(t, v),
    }
    for rule, action in refusals.items():
        with pytest.raises(ReleaseRefused) as e:
            action()
        assert e.value.rule == rule, (rule, str(e.value))
        assert f"rule '{rule}'" in str(e.value)
    # a role the user does not hold, asked for by name
    with pytest.raises(ReleaseRefused, match="does not hold the role 'Model Risk Manager'"):
        review(t.ledger, t.roles, v, "kenji", "x", "approve", role="Model Risk Manager")
    # promoting needs a Release/Deploy role
    _approve_all(t, v)
    with pytest.raises(ReleaseRefused) as e:
        _promote(t, v, user="kenji")
    assert e.value.rule == "missing_role"
    assert approval_status(t.ledger, t.roles, v).complete


def test_four_eyes_nobody_reviews_what_they_trained(tmp_path: Path) -> None:
    # yui is a Model Risk Manager (an approving role) and trained this model herself
    t = build(tmp_path, f"sqlite:///{tmp_path / 'l.db'}", runs=1, trainer="yui")
    [v] = t.candidates
    for decision in ("approve", "reject"):
        with pytest.raises(ReleaseRefused) as e:
            review(t.ledger, t.roles, v, "yui", "my own work is great", decision)
        assert e.value.rule == "four_eyes"
    assert t.ledger.releases.approvals(v) == []
    review(t.ledger, t.roles, v, "kenji", "checked the zones", "approve")
    assert approval_status(t.ledger, t.roles, v).missing == ["Model Risk Manager"]


def test_a_rejection_blocks_production(trained) -> None:
    t = trained
    v = t.candidates[0]
    review(t.ledger, t.roles, v, "kenji", "fine", "approve")
    review(t.ledger, t.roles, v, "yui", "north zone errors too high", "reject")
    with pytest.raises(ReleaseRefused) as e:
        _promote(t, v)
    assert e.value.rule == "rejected_in_review" and "yui" in str(e.value)


def test_failed_gate_cannot_be_promoted(trained) -> None:
    t = trained
    failing = [m for m in t.ledger.registry.models() if m.family == "baseline"][0]
    with pytest.raises(ReleaseRefused) as e:
        _promote(t, failing.version, alias="staging")
    assert e.value.rule == "failed_gate"


def test_promote_rollback_history_and_audit(trained) -> None:
    t = trained
    v1, v2 = t.candidates
    _approve_all(t, v1)
    _approve_all(t, v2)
    before = datetime.now(UTC)
    m1 = _promote(t, v1)
    assert m1.previous_version is None
    with pytest.raises(ReleaseRefused) as e:
        _promote(t, v1)
    assert e.value.rule == "already_there"
    m2 = _promote(t, v2)
    assert m2.previous_version == v1
    dep = t.ledger.releases.alias("production")
    assert dep.version == v2 and dep.rules_hash == t.rules.rules_hash()
    assert dep.rules_version.startswith("abc123+")
    # the bundle behind the alias loads without Metaflow and answers
    guarded = load_bundle(storage.read_bytes(dep.bundle_uri))
    assert guarded.model_version == v2
    back = rollback(t.ledger, t.roles, "yui", "production", "v2 slower at lunch", keys=t.keys)
    assert back.version == v1 and back.previous_version == v2
    assert t.ledger.releases.alias("production").version == v1
    with pytest.raises(ReleaseRefused) as e:
        rollback(t.ledger, t.roles, "yui", keys=t.keys)
    assert e.value.rule == "nothing_to_roll_back"
    hist = t.ledger.releases.history("production")
    assert [(h.action, h.previous_version, h.version) for h in hist] == [
        ("promote", None, v1),
        ("promote", v1, v2),
        ("rollback", v2, v1),
    ]
    assert t.ledger.releases.alias_at("production", before) is None
    assert t.ledger.releases.alias_at("production", hist[1].at) == v2
    assert t.ledger.releases.alias_at("production", datetime.now(UTC)) == v1
    actions = [e.action for e in t.ledger.audit.entries()]
    assert actions.count("model.approve") == 4 and "alias.rollback" in actions
    assert t.ledger.audit.verify().ok
    assert load_alias(t.ledger, keys=t.keys)[0].version == v1


def _racer(url: str, project: str, version: str, barrier) -> None:
    from shared.config import load_project, load_roles, load_rules
    from tests.conftest import REPO

    ledger = Ledger.open(url)
    barrier.wait()
    try:
        promote(
            ledger,
            load_roles(REPO / "config" / "roles.yaml"),
            load_project(project),
            load_rules(REPO / "config" / "rules.yaml"),
            version,
            "production",
            "sora",
            "race",
            None,
        )
    except ReleaseRefused:
        pass


def test_racing_promotions_leave_one_production_version(trained) -> None:
    t = trained
    v1, v2 = t.candidates
    _approve_all(t, v1)
    _approve_all(t, v2)
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(4)
    url = t.ledger.engine.url.render_as_string(hide_password=False)
    procs = [
        ctx.Process(target=_racer, args=(url, str(t.project_path), v, barrier))
        for v in (v1, v2, v1, v2)
    ]
    for p in procs:
        p.start()
    for p in procs:
        # generous: on a loaded machine (load 15 on 2 cores) spawning and importing alone
        # takes minutes; a hang still fails
        p.join(600)
        assert p.exitcode == 0
    hist = t.ledger.releases.history("production")
    assert 2 <= len(hist) <= 4
    # a consistent chain: each move starts where the one before ended
    for before, after in zip(hist, hist[1:], strict=False):
        assert after.previous_version == before.version != after.version
    assert hist[0].previous_version is None
    assert t.ledger.releases.alias("production").version == hist[-1].version
    assert t.ledger.audit.verify().ok


def test_promote_refuses_rules_that_do_not_fit_the_project(tmp_path: Path) -> None:
    import yaml
    from click.testing import CliRunner

    from shared.cli import cli
    from tests.conftest import REPO

    t = build(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}", runs=1)
    [v] = t.candidates
    _approve_all(t, v)
    rules = yaml.safe_load((REPO / "config" / "rules.yaml").read_text())
    rules["output"][0]["expr"] = "prep_minutes + distance_miles / 45 * 60"
    bad = t.project_path.parent / "rules.yaml"  # the rules file of the project folder
    good_text = bad.read_text()
    bad.write_text(yaml.safe_dump(rules))
    base = ["--project", str(t.project_path)]
    promote_v = ["promote", v, "--to", "production", "--as", "sora"]
    out = CliRunner().invoke(cli, [*base, *promote_v])
    assert out.exit_code == 1
    message = out.output.strip()
    assert "\n" not in message and message.startswith(
        f"Error: {bad}: rules do not fit project 'eta': rule 'faster_than_physically_possible' "
        "(floor): expression 'prep_minutes + distance_miles / 45 * 60' names 'distance_miles', "
        "not feature(s) of the project (features: "
    )
    assert t.ledger.releases.alias("production") is None
    bad.write_text(good_text)
    out = CliRunner().invoke(cli, [*base, *promote_v])
    assert out.exit_code == 0, out.output
    assert t.ledger.releases.alias("production").version == v
