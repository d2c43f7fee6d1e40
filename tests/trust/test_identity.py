"""Identity from an authenticated source: `--as` is a dev-mode claim, a login is one person."""

from __future__ import annotations

import json
from pathlib import Path

from shared.trust.identity import os_login
from tests.builders import Trained
from tests.trust.conftest import one_line_error, renkei, set_identity


def test_as_outside_dev_mode_is_refused_in_one_line(trained: Trained) -> None:
    t = trained
    [v] = t.candidates
    set_identity(t, dev_mode=False, logins={"kenji": [os_login()]})
    for args in (
        ["approve", v, "--as", "yui", "--comment", "fine"],
        ["reject", v, "--as", "yui", "--comment", "no"],
        ["promote", v, "--to", "staging", "--as", "sora"],
        ["rollback", "--as", "sora"],
    ):
        msg = one_line_error(renkei(t, *args))
        assert "--as is accepted only in dev mode" in msg and "drop --as" in msg, msg
    assert t.ledger.releases.approvals(v) == [] and t.ledger.releases.alias("staging") is None


def test_a_login_nobody_owns_cannot_act(trained: Trained) -> None:
    t = trained
    [v] = t.candidates
    set_identity(t, dev_mode=False, logins={"kenji": ["someone-else"]})
    msg = one_line_error(renkei(t, "approve", v, "--comment", "fine"))
    assert f"login {os_login()!r} is nobody in roles.yaml" in msg
    assert t.ledger.releases.approvals(v) == []


def test_three_names_from_one_login_cannot_satisfy_four_eyes(
    trained: Trained, tmp_path: Path
) -> None:
    """The attack: one person types `--as kenji`, `--as yui`, `--as sora`. Out of dev mode
    the login is kenji whatever is typed: one approval, no second, no promotion."""
    t = trained
    [v] = t.candidates
    env = {"RENKEI_KEY_DIR": str(tmp_path / "kenji-keys")}
    set_identity(t, dev_mode=False, logins={"kenji": [os_login()]})
    out = renkei(t, "keys", "init", env=env)
    assert out.exit_code == 0, out.output
    public = out.output.strip().splitlines()[-1]
    set_identity(t, public_keys={"kenji": public})
    ok = renkei(t, "approve", v, "--comment", "ETA fine on every zone", env=env)
    assert ok.exit_code == 0, ok.output
    assert f"kenji approved {v} as Domain Expert" in ok.output
    one_line_error(renkei(t, "approve", v, "--as", "yui", "--comment", "me again", env=env))
    again = one_line_error(renkei(t, "approve", v, "--comment", "me again", env=env))
    assert "already approved" in again
    refused = one_line_error(renkei(t, "promote", v, "--to", "production", env=env))
    assert "kenji may not promote" in refused
    assert [(a.actor, a.role) for a in t.ledger.releases.approvals(v)] == [
        ("kenji", "Domain Expert")
    ]
    assert t.ledger.releases.alias("production") is None


def test_dev_mode_records_every_action_as_unverified(trained: Trained) -> None:
    t = trained
    [v] = t.candidates  # config/roles.yaml (copied into the project) is in dev mode
    out = renkei(t, "approve", v, "--as", "kenji", "--comment", "fine")
    assert out.exit_code == 0, out.output
    assert f"kenji (unverified) approved {v}" in out.output
    from shared.ledger.trust import TrustRecords

    [sig] = TrustRecords(t.ledger).signatures("approval").values()
    assert sig.identity == "unverified" and sig.provider == "dev" and sig.signer == "kenji"
    assert sig.statement["version"] == v and len(sig.statement["artifact_sha256"]) == 64
    log = renkei(t, "audit", "log", "--json")
    [entry] = [e for e in json.loads(log.output) if e["action"] == "model.approve"]
    assert entry["actor"] == "kenji" and entry["signature"] == "unverified (dev mode)"
    assert entry["anchor"] == "anchored"


def test_the_app_signs_for_an_oidc_user_with_its_service_key(
    trained: Trained, tmp_path: Path, monkeypatch
) -> None:
    """The app's path: st.user's email maps to a member; the app's service key (listed in
    roles.yaml service_keys) signs, recording the OIDC subject and issuer."""
    from shared.config import load_project_set
    from shared.ledger.trust import TrustRecords
    from shared.release import review
    from shared.reports.trust import app_signer, approval_signatures
    from shared.trust import keys
    from shared.trust.decisions import approval_problems

    t = trained
    [v] = t.candidates
    monkeypatch.setenv("RENKEI_KEY_DIR", str(tmp_path / "app-keys"))
    keys.init_key(tmp_path / "app-keys", "app")
    public = keys.public_text(keys.load_key(tmp_path / "app-keys", "app").public_key())
    set_identity(t, dev_mode=False, logins={"yui": ["yui@example.test"]})
    pset = load_project_set(t.project_path)
    oidc = {"iss": "https://login.example.test/", "sub": "u-77"}
    sg = app_signer(
        pset.roles.identity,
        t.cfg.storage.data_root,
        t.rules.rules_hash(),
        "yui@example.test",
        oidc,
    )
    assert sg.identity.member == "yui" and sg.key_name == "app"
    review(t.ledger, pset.roles, v, sg.identity.member, "ok", "approve", signer=sg)
    [sig] = TrustRecords(t.ledger).signatures("approval").values()
    assert sig.provider == "oidc" and sig.statement["oidc"] == {
        "issuer": oidc["iss"],
        "subject": oidc["sub"],
    }
    m = t.ledger.registry.model(v)
    # the service key is not yet trusted: the approval does not verify
    [problem] = approval_problems(t.ledger, pset.roles.identity, m)
    assert "'app' has no public key in roles.yaml identity" in problem
    set_identity(t, service_keys={"app": public})
    roles = load_project_set(t.project_path).roles
    assert approval_problems(t.ledger, roles.identity, m) == []
    [row] = approval_signatures(t.ledger, roles.identity, v)
    assert row["signed by"] == "yui" and row["signature"] == "verified"
    assert row["identity"] == "oidc login yui@example.test, key app"
