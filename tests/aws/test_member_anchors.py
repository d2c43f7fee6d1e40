"""Issue 25 item 6's open question, through the CLI against a moto server: in production
the ledger key is the Batch job role's alone (`renkei deploy aws --print-iam`), so an
operator's CLI cannot sign an anchor with it. Each member's decision (approve, promote) is
anchored with that member's own key instead, and `audit verify` counts such an anchor only
for the member's own entry, with the key roles.yaml lists for them.

The members' shells cannot reach the ledger-key secret here (its endpoint is a closed
loopback port): what IAM would deny them in production, which moto does not enforce."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from click.testing import Result

from shared.config.identity import AnchorSettings
from shared.trust import keys
from shared.trust.anchors import S3Anchors, checkpoint
from tests.aws.conftest import iam_user
from tests.builders import Trained, build
from tests.trust.conftest import renkei, set_identity
from tests.trust.test_audit_verify import _rewrite_chain

pytestmark = pytest.mark.slow

ACCOUNT = "123456789012"
ANCHORS = {"store": "s3", "bucket": "renkei-anchors", "retain_days": 30}


def production_team(t: Trained, tmp: Path, names: tuple[str, ...]) -> dict[str, dict]:
    """roles.yaml as production runs it (dev mode off, provider aws, Object Lock anchors, the
    ledger key in a Secrets Manager secret made by an administrator), an IAM user per member
    with their own access key and key folder; returns each member's shell environment."""
    boto3.client("s3").create_bucket(Bucket="renkei-anchors", ObjectLockEnabledForBucket=True)
    set_identity(t, ledger_key={"secret": "renkei/ledger-key"})
    out = renkei(t, "keys", "init", "--ledger")  # the administrator's credentials
    assert out.exit_code == 0 and "created ledger key" in out.output, out.output
    ledger_public = out.output.strip().splitlines()[-1]
    envs, logins = {}, {}
    for name in names:
        envs[name] = {
            **iam_user(name),
            "RENKEI_KEY_DIR": str(tmp / f"keys-{name}"),
            # the ledger-key secret is out of their reach (IAM, in production)
            "AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://127.0.0.1:9",
            "AWS_MAX_ATTEMPTS": "1",
        }
        logins[name] = [f"arn:aws:iam::{ACCOUNT}:user/{name}"]
    set_identity(
        t,
        dev_mode=False,
        provider="aws",
        logins=logins,
        anchors=ANCHORS,
        ledger_key={"secret": "renkei/ledger-key", "public": ledger_public},
    )
    public = {}
    for name in names:
        out = renkei(t, "keys", "init", env=envs[name])
        assert out.exit_code == 0, out.output
        public[name] = out.output.strip().splitlines()[-1]
    # the release key that signs promoted bundles: the last member's (the operator's), a key
    # file here since members reach no secret; its public half pinned for every load
    out = renkei(t, "keys", "init", "--release", env=envs[names[-1]])
    assert out.exit_code == 0, out.output
    release = {"public": out.output.strip().splitlines()[-1]}
    set_identity(t, public_keys=public, release_key=release)
    return envs


def _ok(out: Result) -> str:
    assert out.exit_code == 0, out.output
    return out.output


def test_members_anchor_their_own_decisions_with_their_own_keys(
    moto_server: str, tmp_path: Path
) -> None:
    t = build(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}", runs=1)
    [v1] = t.candidates
    env = production_team(t, tmp_path, ("kenji", "yui", "sora"))
    for who in ("kenji", "yui"):
        out = _ok(renkei(t, "approve", v1, "--comment", "ok", env=env[who]))
        assert "not anchored" not in out, out
    _ok(renkei(t, "promote", v1, "--to", "production", "--reason", "r1", env=env["sora"]))
    # three writes in a row by members who cannot read the ledger key: each anchored
    verify = renkei(t, "audit", "verify", env=env["sora"])
    last = t.ledger.audit.entries()[-1]
    assert verify.exit_code == 0, verify.output
    assert f"anchored up to entry {last.id}" in verify.output, verify.output
    store = S3Anchors(AnchorSettings(**ANCHORS), boto3.client("s3"))
    roles_keys = {
        n: keys.public_text(keys.load_key(tmp_path / f"keys-{n}", n).public_key()) for n in env
    }
    by_entry = {e.id: e.actor for e in t.ledger.audit.entries()}
    signed = [(cp.signer, by_entry[cp.last_id], cp.public_key) for cp in store.read()]
    assert signed == [(n, n, roles_keys[n]) for n in ("kenji", "yui", "sora")], signed

    # kenji's key revoked (by sora, signed) and taken out of roles.yaml: his anchor and his
    # approval, made before the revocation, still verify as of their time
    out = _ok(renkei(t, "keys", "revoke", "kenji", "--reason", "left", env=env["sora"]))
    revoked_at = t.ledger.audit.entries()[-1].id
    assert f"at audit entry {revoked_at}" in out
    set_identity(t, public_keys={n: roles_keys[n] for n in ("yui", "sora")})
    _ok(renkei(t, "tokens", "create", "--name", "batch", env=env["sora"]))
    token = t.ledger.audit.entries()[-1]
    verify = renkei(t, "audit", "verify")
    assert verify.exit_code == 0 and f"anchored up to entry {token.id}" in verify.output, (
        verify.output
    )
    # kenji's revoked key anchoring an entry after its revocation is refused; and a member's
    # key anchoring somebody else's entry (kenji, sora's promotion) is refused
    kenji_key = keys.load_key(tmp_path / "keys-kenji", "kenji")
    store.append(checkpoint(kenji_key, token.id, token.hash, signer="kenji"))
    store.append(checkpoint(kenji_key, last.id, last.hash, signer="kenji"))
    bad = renkei(t, "audit", "verify")
    assert bad.exit_code == 1
    assert f"anchor of entry {token.id} " in bad.output
    assert f"revoked at audit entry {revoked_at}" in bad.output, bad.output
    assert f"entry {last.id} is sora's: a member anchors only their own writes" in bad.output
    # the database rewritten (yui's approval, every later hash recomputed): the members'
    # anchors witness it, although no ledger key signed any of them
    yui_entry = next(i for i, a in by_entry.items() if a == "yui")
    _rewrite_chain(t.ledger.engine.url.database, yui_entry, "yui")
    assert t.ledger.audit.verify().ok
    bad = renkei(t, "audit", "verify")
    assert bad.exit_code == 1
    assert bad.exit_code == 1
    assert f"anchor of entry {yui_entry} " in bad.output, bad.output
    assert "was rewritten, deleted or reordered" in bad.output, bad.output
    details = json.loads(t.ledger.audit.entries()[yui_entry - 1].details)
    assert details["note"] == "rewritten"
