"""Issue 25's last gaps, as production runs (dev mode off, provider aws, Object Lock anchors in
a moto server, the ledger key in a Secrets Manager secret that only the Batch job role
reads: here its endpoint is a closed loopback port for everyone but the administrator).

- The app: a signed-in (OIDC) member's approval is signed with the app's service key, and
  anchored with it; `renkei audit verify` counts such an anchor for the app's own writes only.
- `renkei audit anchor`: after a crash between a commit and its anchor, a member catches up
  with their own key; verify counts that for no more entries than a crash leaves.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import boto3
import pytest
import streamlit as st
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from streamlit.testing.v1 import AppTest

from shared.config.identity import AnchorSettings
from shared.ledger.audit import AuditEntryRecord
from shared.trust import keys
from shared.trust.anchors import S3Anchors, checkpoint
from tests.app.conftest import APP
from tests.aws.test_member_anchors import ACCOUNT, ANCHORS, production_team
from tests.builders import Trained, build
from tests.conftest import REPO
from tests.trust.conftest import RENKEI, set_identity

pytestmark = pytest.mark.slow

CLOSED = "http://127.0.0.1:9"  # where the ledger-key secret is, for whoever IAM denies it
ISSUER = "https://login.example.test/"


def _cli(t: Trained, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """`renkei --project <t's folder> ARGS` as a real process, in a member's shell (``env``:
    their credentials and key folder; None values taken out of the environment)."""
    full = {**os.environ, "RENKEI_LEDGER_URL": ""}
    for k, v in (env or {}).items():
        if v is None:
            full.pop(k, None)
        else:
            full[k] = v
    return subprocess.run(
        [RENKEI, "--project", str(t.project_path), *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=full,
        timeout=300,
    )


def _store() -> S3Anchors:
    return S3Anchors(AnchorSettings(**ANCHORS), boto3.client("s3"))


def _models_page(member: str) -> AppTest:
    """The Models page, ``member`` signed in through the identity provider (their e-mail)."""
    return signed_in_page(member, "models")


def signed_in_page(member: str, page: str) -> AppTest:
    """An app page, ``member`` signed in through the identity provider (their e-mail)."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.user = {
        "is_logged_in": True,
        "email": f"{member}@example.test",
        "iss": ISSUER,
        "sub": f"sub-{member}",
    }
    at.run()
    at.switch_page(f"views/{page}.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _approve_in_the_app(member: str, version: str) -> AppTest:
    at = _models_page(member)
    at.selectbox(key="model_version").set_value(version).run()
    at.text_area(key="review_comment").input("checked in the app")
    at.button[0].click().run()  # Approve
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def _promote(t: Trained, version: str, env: dict) -> None:
    out = _cli(t, "promote", version, "--to", "production", "--reason", "go", env=env)
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_apps_decisions_are_anchored_with_its_service_key_in_production(
    moto_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = build(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}", runs=2)
    v1, v2 = t.candidates
    env = production_team(t, tmp_path, ("kenji", "yui", "sora"))
    # the app's service key (its own key folder) listed in roles.yaml; each member signs in
    # with their e-mail through the identity provider
    app_keys = tmp_path / "keys-app"
    made = _cli(t, "keys", "init", "--service", "app", env={"RENKEI_KEY_DIR": str(app_keys)})
    assert made.returncode == 0, made.stdout + made.stderr
    assert "list it in roles.yaml identity.service_keys: {app: ...}" in made.stdout
    public = made.stdout.strip().splitlines()[-1]
    assert public == keys.public_text(keys.load_key(app_keys, "app").public_key())
    set_identity(
        t,
        service_keys={"app": public},
        logins={
            n: [f"arn:aws:iam::{ACCOUNT}:user/{n}", f"{n}@example.test"]
            for n in ("kenji", "yui", "sora")
        },
    )
    # the app runs here: its key folder; the ledger-key secret out of its reach
    as_the_app(monkeypatch, t, app_keys)
    before = t.ledger.audit.entries()[-1].id
    for who in ("kenji", "yui"):  # two decisions in a row: more than a crash leaves
        at = _approve_in_the_app(who, v1)
        assert f"{who} approved {v1}" in at.success[0].value, [s.value for s in at.success]
    entries = t.ledger.audit.entries()
    last = entries[-1]
    assert [e.action for e in entries if e.id > before] == ["model.approve"] * 2
    verify = _cli(t, "audit", "verify", env=env["sora"])
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert f"anchored up to entry {last.id}" in verify.stdout, verify.stdout
    assert "come after the last anchor" not in verify.stdout, verify.stdout
    signed = [(cp.last_id, cp.service, cp.public_key) for cp in _store().read()]
    assert signed[-2:] == [(before + 1, "app", public), (last.id, "app", public)], signed

    # sora promotes from the CLI (her key anchors it); v2 is approved in the app and
    # promoted; sora, signed in to the app, rolls production back: the app signs and
    # anchors the rollback with its key
    _promote(t, v1, env["sora"])
    for who in ("kenji", "yui"):
        _approve_in_the_app(who, v2)
    _promote(t, v2, env["sora"])
    at = _models_page("sora")
    [back] = [b for b in at.button if b.label == "Roll back production"]
    back.click().run()
    assert not at.exception and not at.error, [e.value for e in at.exception or at.error]
    assert at.success[0].value == f"production is back on {v1}", at.success[0].value
    entries = t.ledger.audit.entries()
    last = entries[-1]
    assert (last.action, last.actor) == ("alias.rollback", "sora")
    verify = _cli(t, "audit", "verify", env=env["sora"])
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert f"anchored up to entry {last.id}" in verify.stdout, verify.stdout
    newest = _store().read()[-1]
    assert (newest.last_id, newest.service, newest.signer) == (last.id, "app", "")
    at.switch_page("views/audit.py").run()  # the app's Audit page counts them too
    assert not at.exception, [e.value for e in at.exception]
    assert not [e.value for e in at.error if e.value.startswith("Anchor:")], at.error

    # the app's key anchors its own writes only: a checkpoint it signed of a training entry
    # (the job role's) is refused
    trained = next(e for e in entries if e.action == "model.register")
    app_anchor_is_refused(t, env["sora"], keys.load_key(app_keys, "app"), trained)


def as_the_app(monkeypatch: pytest.MonkeyPatch, t: Trained, app_keys: Path) -> None:
    """The app's process environment: its key folder, the project as `renkei app` gives it,
    and the ledger-key secret out of its reach (as IAM keeps it in production)."""
    monkeypatch.setenv("RENKEI_KEY_DIR", str(app_keys))
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", CLOSED)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("RENKEI_PROJECT", str(t.project_path))
    monkeypatch.setenv("RENKEI_LEDGER_URL", "")
    st.cache_resource.clear()


def app_anchor_is_refused(
    t: Trained, env: dict, app_key: Ed25519PrivateKey, entry: AuditEntryRecord
) -> None:
    """The app's key anchors ``entry``, which it did not write: `audit verify` (run with
    ``env``) exits 1 and says a service anchors only its own writes."""
    _store().append(checkpoint(app_key, entry.id, entry.hash, service="app"))
    bad = _cli(t, "audit", "verify", env=env)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert (
        f"entry {entry.id} is not the app's (an entry its key sealed, or a decision it "
        "signed): a service anchors only its own writes"
    ) in bad.stderr, bad.stderr


def test_a_member_catches_up_a_crashed_anchor_with_their_own_key_in_production(
    moto_server: str, tmp_path: Path
) -> None:
    t = build(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}", runs=1)
    [v1] = t.candidates
    env = production_team(t, tmp_path, ("kenji", "yui", "sora"))
    first = _cli(t, "approve", v1, "--comment", "ok", env=env["yui"])  # anchored: her key
    assert first.returncode == 0, first.stdout + first.stderr
    crash = {**env["kenji"], "RENKEI_INJECT_FAULT": "anchor-kill"}
    crashed = _cli(t, "approve", v1, "--comment", "ok", env=crash)
    assert crashed.returncode == -9, crashed.stdout + crashed.stderr  # after the commit
    last = t.ledger.audit.entries()[-1]
    assert last.action == "model.approve" and last.actor == "kenji"
    assert last.id not in [cp.last_id for cp in _store().read()]
    ok = _cli(t, "audit", "verify", env=env["sora"])
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert f"entries {last.id}..{last.id} come after the last anchor" in ok.stdout, ok.stdout
    # sora, who cannot read the ledger key, catches up with her own key
    caught = _cli(t, "audit", "anchor", env=env["sora"])
    assert caught.returncode == 0, caught.stdout + caught.stderr
    assert f"anchored entries {last.id}..{last.id}" in caught.stdout, caught.stdout
    assert "signed by sora's key (a catch-up)" in caught.stdout, caught.stdout
    cp = _store().read()[-1]
    assert (cp.last_id, cp.last_hash, cp.signer, cp.catch_up) == (last.id, last.hash, "sora", True)
    after = _cli(t, "audit", "verify", env=env["sora"])
    assert after.returncode == 0, after.stdout + after.stderr
    assert f"anchored up to entry {last.id}" in after.stdout, after.stdout
    assert "come after the last anchor" not in after.stdout, after.stdout

    # a member's catch-up vouches for no more than a crash leaves: three entries written
    # past the anchors (straight into the database) stay a failure when sora anchors them
    for i in range(3):
        t.ledger.audit.append("mallory", "note.added", f"n{i}", {"i": i})
    head = t.ledger.audit.entries()[-1]
    refused = _cli(t, "audit", "anchor", env=env["sora"])
    assert refused.returncode == 1 and "nothing anchored" in refused.stderr, refused.stderr
    sora = keys.load_key(tmp_path / "keys-sora", "sora")
    _store().append(checkpoint(sora, head.id, head.hash, signer="sora", catch_up=True))
    bad = _cli(t, "audit", "verify", env=env["sora"])
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert (
        f"catch-up anchor of entry {head.id} " in bad.stderr
        and "it vouches for 3 entries after the last anchor, more than a crash between a "
        "commit and its anchor leaves (1)"
        in bad.stderr
    ), bad.stderr
