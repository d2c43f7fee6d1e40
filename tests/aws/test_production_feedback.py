"""Issue 25, the app's Operator page in production (dev mode off, provider aws, Object Lock
anchors in a moto server, the ledger in PostgreSQL, the ledger key in a Secrets Manager
secret that only the job role reads).

A signed-in ML operator (OIDC: their e-mail, mapped to the member by identity.logins) gives
feedback in the app: each write (the feedback batch, the interval update it moves) is sealed
by the app's service key in its own transaction, and anchored with that key; `renkei audit
verify` counts those anchors, and refuses the app's anchor of an entry it did not seal.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from shared.config import load_project_set
from shared.data.generator import generate_orders
from shared.ledger.seals import ENTRY, NewSignature, entry_statement
from shared.operate.scoring import fresh_batch_start
from shared.pipeline.score import score
from shared.trust import keys
from shared.trust.anchors import open_anchored
from shared.trust.release_key import release_keys
from tests.aws.test_member_anchors import ACCOUNT, production_team
from tests.aws.test_production_anchors import (
    _cli,
    _promote,
    _store,
    app_anchor_is_refused,
    as_the_app,
    signed_in_page,
)
from tests.builders import build
from tests.trust.conftest import set_identity

pytestmark = pytest.mark.slow

TEAM = ("kenji", "yui", "sora")


def _operator_page(member: str) -> AppTest:
    """The Operator page, ``member`` signed in through the identity provider (their e-mail)."""
    return signed_in_page(member, "operator")


def _flag_in_the_app(member: str, done: set[str]) -> str:
    """``member`` flags a scored row nobody labelled (not in ``done``) with its true value."""
    at = _operator_page(member)
    assert not at.warning, [w.value for w in at.warning]  # an ML Operator: the form is open
    pick = next(o for o in at.selectbox(key="fb_row").options if o.split(" (batch")[0] not in done)
    rid = pick.split(" (batch")[0]
    at.selectbox(key="fb_row").set_value(pick)
    at.number_input(key="fb_value").set_value(42.5)
    at.text_input(key="fb_note").input("courier got lost")
    at.button[0].click().run()  # Flag and record
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert at.success[0].value == f"Recorded for {rid}: accepted", [s.value for s in at.success]
    done.add(rid)
    return rid


def test_a_signed_in_operators_feedback_is_sealed_and_anchored_with_the_apps_key(
    moto_server: str, tmp_path: Path, fresh_pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = build(tmp_path, fresh_pg_url, runs=1)
    [v1] = t.candidates
    env = production_team(t, tmp_path, TEAM)
    app_keys = tmp_path / "keys-app"
    made = _cli(t, "keys", "init", "--service", "app", env={"RENKEI_KEY_DIR": str(app_keys)})
    assert made.returncode == 0, made.stdout + made.stderr
    public = made.stdout.strip().splitlines()[-1]
    set_identity(  # ren, the ML Operator, signs in to the app with her e-mail
        t,
        service_keys={"app": public},
        logins={
            **{n: [f"arn:aws:iam::{ACCOUNT}:user/{n}", f"{n}@example.test"] for n in TEAM},
            "ren": ["ren@example.test"],
        },
    )
    for who in ("kenji", "yui"):  # approved and promoted from the CLI (members' own keys)
        out = _cli(t, "approve", v1, "--comment", "ok", env=env[who])
        assert out.returncode == 0, out.stdout + out.stderr
    _promote(t, v1, env["sora"])
    # the score flow's task, as the job role (it reads the ledger key's secret): a batch of
    # scored rows for the operator to judge, anchored with the ledger key
    identity = load_project_set(t.project_path).roles.identity
    root = t.cfg.storage.data_root
    g = generate_orders(40, seed=5, start=fresh_batch_start(), days=1, id_prefix="s")
    src = tmp_path / "batch.csv"
    g.orders.to_csv(src, index=False)
    job = open_anchored(fresh_pg_url, identity, root)
    score(job, t.cfg, "ScoreFlow/prod", "ren", str(src), keys=release_keys(identity, root))
    scored = t.ledger.audit.entries()[-1]
    assert scored.action == "scoring.batch", scored

    # the app runs here: its key folder; the ledger-key secret out of its reach
    as_the_app(monkeypatch, t, app_keys)
    before = scored.id
    done: set[str] = set()
    flagged = [_flag_in_the_app("ren", done) for _ in range(2)]  # two writes in a row
    labelled = t.ledger.operations.labelled_rows()
    mine = labelled[labelled["flagged"]]
    assert sorted(mine["row_id"]) == sorted(flagged) and set(mine["actor"]) == {"ren"}
    new = [e for e in t.ledger.audit.entries() if e.id > before]
    # each label moved production's interval quantile: a write of its own
    assert [(e.action, e.actor) for e in new] == [
        ("feedback.record", "ren"),
        ("intervals.adapt", "ren"),
    ] * 2, [(e.action, e.actor) for e in new]
    verify = _cli(t, "audit", "verify", env=env["sora"])
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert f"anchored up to entry {new[-1].id}" in verify.stdout, verify.stdout
    assert "come after the last anchor" not in verify.stdout, verify.stdout
    anchored = {cp.last_id: (cp.service, cp.public_key) for cp in _store().read()}
    assert [anchored.get(e.id) for e in new] == [("app", public)] * 4, anchored

    # each entry sealed by the app's key, in its write: a statement naming the entry
    seals = t.ledger.trust.signatures(ENTRY)
    for e in new:
        sig = seals[(ENTRY, e.id)]
        assert (sig.key_name, sig.provider, sig.signer, sig.login) == (
            "app",
            "oidc",
            "ren",
            "ren@example.test",
        )
        assert sig.public_key == public and keys.verify(public, sig.statement, sig.signature)
        assert {k: sig.statement[k] for k in entry_statement(e)} == entry_statement(e)

    # the app's key anchors only what it sealed: its anchor of the job role's scoring entry,
    # and of feedback written straight into the database (no seal), are refused
    app_key = keys.load_key(app_keys, "app")
    app_anchor_is_refused(t, env["sora"], app_key, scored)
    t.ledger.operations.record_feedback("app", [], "ren")
    forged = t.ledger.audit.entries()[-1]
    app_anchor_is_refused(t, env["sora"], app_key, forged)
    # a seal of that entry made with another key (not the listed service key) is refused
    other = keys.load_key(tmp_path / "keys-sora", "sora")
    stmt = {**entry_statement(forged), "signer": "ren"}
    t.ledger.trust.add(
        NewSignature(
            ENTRY,
            forged.id,
            signer="ren",
            identity="verified",
            provider="oidc",
            login="ren@example.test",
            key_name="app",
            statement=stmt,
            signature=keys.sign(other, stmt),
            public_key=keys.public_text(other.public_key()),
        )
    )
    bad = _cli(t, "audit", "verify", env=env["sora"])
    assert bad.returncode == 1
    assert (
        f"the seal of audit entry {forged.id} (signed by app): the signature does not verify"
        in bad.stderr
    ), bad.stderr
    assert f"entry {forged.id} is not the app's" in bad.stderr, bad.stderr
    assert json.loads(forged.details) == {}
