"""The ledger key in AWS Secrets Manager (a moto server), its rotation, and a member's key
revoked (issue 25, item 3), through the `renkei` CLI users run, out of dev mode."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from shared.config import load_project_set
from shared.trust import keys
from tests.builders import Trained
from tests.conftest import REPO
from tests.trust.conftest import renkei, renkei_process, set_identity
from tests.trust.test_signed_release import _members

pytestmark = pytest.mark.slow

SECRET = "renkei/ledger-key"


def _anchors(t: Trained) -> list[dict]:
    path = Path(t.cfg.storage.data_root) / "audit-anchors.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def _secret_key(stage: str = "AWSCURRENT") -> str:
    value = boto3.client("secretsmanager").get_secret_value(SecretId=SECRET, VersionStage=stage)
    return keys.public_text(keys.parse_private(value["SecretString"]).public_key())


def _ok(t: Trained, *args: str, env: dict) -> str:
    out = renkei(t, *args, env=env)
    assert out.exit_code == 0, out.output
    return out.output


def _ledger_key_in_secret(t: Trained, env: dict) -> str:
    """`renkei keys init --ledger` creates the secret; roles.yaml pins its public half."""
    set_identity(t, ledger_key={"secret": SECRET})
    out = _ok(t, "keys", "init", "--ledger", env=env)
    assert f"created ledger key: the Secrets Manager secret {SECRET}" in out, out
    public = out.strip().splitlines()[-1]
    assert public == _secret_key()
    again = _ok(t, "keys", "init", "--ledger", env=env)
    assert "kept the existing ledger key" in again and again.strip().endswith(public)
    set_identity(t, ledger_key={"secret": SECRET, "public": public})
    return public


def _no_key_files(*folders: Path) -> None:
    for folder in folders:
        assert not [p for p in folder.rglob("ledger.ed25519*")], folder


def test_the_ledger_key_read_from_its_secret_signs_every_anchor(
    trained: Trained, tmp_path: Path, moto_server: str
) -> None:
    t = trained
    [v] = t.candidates
    env = _members(t, tmp_path, ["kenji", "yui", "sora"])
    public = _ledger_key_in_secret(t, env["sora"])
    for who in ("kenji", "yui"):
        _ok(t, "approve", v, "--comment", "ok", env=env[who])
    _ok(t, "promote", v, "--to", "production", "--reason", "go", env=env["sora"])
    # a flow's task as on Batch: an empty home and working folder, no key folder, the
    # project as the flow froze it; it opens the ledger as every flow step does
    frozen = tmp_path / "frozen.json"
    frozen.write_text(json.dumps(load_project_set(t.project_path).frozen()))
    task_dir = tmp_path / "task"
    task_dir.mkdir()
    code = (
        "import json, sys\n"
        "from shared.flowkit.run import open_ledger\n"
        "ledger = open_ledger(json.load(open(sys.argv[1])))\n"
        "ledger.runs.start('ScoreFlow', 'sfn-1', 'task')\n"
    )
    task_env = {k: v for k, v in os.environ.items() if k != "RENKEI_KEY_DIR"}
    task_env.update(HOME=str(task_dir), PYTHONPATH=str(REPO), RENKEI_LEDGER_URL="")
    task = subprocess.run(
        [sys.executable, "-c", code, str(frozen)],
        cwd=task_dir,
        env=task_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert task.returncode == 0 and "not anchored" not in task.stderr, task.stderr
    anchors = _anchors(t)
    # the task's write by the ledger key; each member's own decision by their own key
    assert len(anchors) == 4 and {a["public_key"] for a in anchors if "signer" not in a} == {public}
    assert anchors[-1]["last_id"] == t.ledger.audit.entries()[-1].id  # the task's entry
    _no_key_files(tmp_path, Path(t.cfg.storage.data_root))  # nothing copied, nothing written
    out = _ok(t, "audit", "verify", env=env["sora"])
    assert "every signature verifies" in out and "note:" not in out, out
    # the secret holds the one key roles.yaml pins: an anchor by any other key fails
    other = keys.Ed25519PrivateKey.generate()
    from shared.trust.anchors import LocalAnchors, checkpoint

    head = t.ledger.audit.entries()[-1]
    LocalAnchors(Path(t.cfg.storage.data_root) / "audit-anchors.jsonl").append(
        checkpoint(other, head.id, head.hash)
    )
    bad = renkei(t, "audit", "verify", env=env["sora"])
    assert bad.exit_code == 1 and "neither the ledger key in roles.yaml" in bad.output


def test_a_rotated_ledger_key_old_anchors_verify_new_ones_use_the_new_key(
    trained2: Trained, tmp_path: Path, moto_server: str
) -> None:
    t = trained2
    v1, v2 = t.candidates
    env = _members(t, tmp_path, ["kenji", "yui", "sora"])
    old = _ledger_key_in_secret(t, env["sora"])
    for who in ("kenji", "yui"):
        _ok(t, "approve", v1, "--comment", "ok", env=env[who])
    # a task's write, anchored with the ledger key of that time (members anchor their own)
    from shared.trust import anchors as task_anchors

    head = t.ledger.audit.entries()[-1]
    task_anchors.LocalAnchors(Path(t.cfg.storage.data_root) / "audit-anchors.jsonl").append(
        task_anchors.checkpoint(
            keys.parse_private(
                boto3.client("secretsmanager").get_secret_value(SecretId=SECRET)["SecretString"]
            ),
            head.id,
            head.hash,
        )
    )
    before = len(_anchors(t))
    out = _ok(t, "keys", "rotate", "--ledger", env=env["sora"])
    new = out.strip().splitlines()[-1]
    assert f"{keys.key_id(old)} -> {keys.key_id(new)}" in out and new != old
    assert _secret_key() == new and _secret_key("AWSPREVIOUS") == old
    [rotation] = [e for e in t.ledger.audit.entries() if e.action == "key.rotate"]
    assert rotation.actor == "sora"
    for who in ("kenji", "yui"):
        _ok(t, "approve", v2, "--comment", "ok", env=env[who])
    _ok(t, "promote", v2, "--to", "production", "--reason", "go", env=env["sora"])
    anchors = _anchors(t)
    ledger = [(a["last_id"], a["public_key"]) for a in anchors if "signer" not in a]
    # the ledger key's anchors: the old key's before the rotation, then the new key's of the
    # rotation entry (which sora, who rotated, also anchors with her own key)
    assert ledger == [(head.id, old), (rotation.id, new)], ledger
    assert [(a.get("signer"), a["last_id"]) for a in anchors[before : before + 2]] == [
        ("sora", rotation.id),
        (None, rotation.id),
    ]
    assert [a.get("signer") for a in anchors[before + 2 :]] == ["kenji", "yui", "sora"]
    assert len(anchors) == before + 5
    # roles.yaml still pins the old key: the rotation, signed by both, links the new one
    out = _ok(t, "audit", "verify", env=env["sora"])
    assert "every signature verifies" in out and "note:" not in out, out
    set_identity(t, ledger_key={"secret": SECRET, "public": new})  # pinned anew: same answer
    assert "every signature verifies" in _ok(t, "audit", "verify", env=env["sora"])
    # the old key (AWSPREVIOUS) signing an anchor of a later entry is no witness
    value = boto3.client("secretsmanager").get_secret_value(
        SecretId=SECRET, VersionStage="AWSPREVIOUS"
    )
    from shared.trust.anchors import LocalAnchors, checkpoint

    head = t.ledger.audit.entries()[-1]
    LocalAnchors(Path(t.cfg.storage.data_root) / "audit-anchors.jsonl").append(
        checkpoint(keys.parse_private(value["SecretString"]), head.id, head.hash)
    )
    out = _ok(t, "audit", "verify", env=env["sora"])
    assert f"rotated away at entry {rotation.id}: not counted as a witness" in out, out


def test_a_revoked_members_later_signature_is_refused_earlier_one_verifies(
    trained2: Trained, tmp_path: Path, moto_server: str
) -> None:
    t = trained2
    v1, v2 = t.candidates
    env = _members(t, tmp_path, ["kenji", "yui", "sora"])
    _ledger_key_in_secret(t, env["sora"])
    for who in ("kenji", "yui"):
        _ok(t, "approve", v1, "--comment", "ok", env=env[who])
    kenji_key = load_project_set(t.project_path).roles.identity.public_keys["kenji"]
    out = _ok(t, "keys", "revoke", "kenji", "--reason", "laptop lost", env=env["sora"])
    [revoke] = [e for e in t.ledger.audit.entries() if e.action == "key.revoke"]
    assert f"revoked kenji's key {keys.key_id(kenji_key)} at audit entry {revoke.id}" in out
    assert revoke.actor == "sora" and json.loads(revoke.details)["reason"] == "laptop lost"
    assert "every signature verifies" in _ok(t, "audit", "verify", env=env["sora"])
    # kenji, whose key leaked, still signs with it: after the revocation, refused
    for who in ("kenji", "yui"):
        _ok(t, "approve", v2, "--comment", "ok", env=env[who])
    [late] = [a for a in t.ledger.releases.approvals(v2) if a.actor == "kenji"]
    refused = f"approval {late.id} (approve of {v2} by kenji): signed with kenji's key"
    promote = renkei(t, "promote", v2, "--to", "production", "--reason", "r", env=env["sora"])
    assert promote.exit_code == 1 and refused in promote.output, promote.output
    assert f"after its revocation at audit entry {revoke.id}" in promote.output
    assert t.ledger.releases.alias("production") is None
    # the revoked key taken out of roles.yaml, as the revocation says: v1's approval by
    # kenji, made before it, still verifies (against the key the revocation names)
    roles = load_project_set(t.project_path).roles.identity
    set_identity(t, public_keys={k: v for k, v in roles.public_keys.items() if k != "kenji"})
    bad = renkei(t, "audit", "verify", env=env["sora"])
    assert bad.exit_code == 1, bad.output
    problems = [line for line in bad.output.splitlines() if line.startswith("  - ")]
    # kenji's later approval refused, and so is the anchor his revoked key made of it
    assert len(problems) == 2 and refused in problems[1], bad.output
    assert "before that entry: refused" in problems[0], bad.output
    _ok(t, "promote", v1, "--to", "production", "--reason", "go", env=env["sora"])
    # a revocation entry anyone could append (signed by nobody roles.yaml lists) does not
    # make an attacker's key yui's "as of its time": the forged approval before it fails
    from shared.trust.decisions import Signer
    from shared.trust.identity import Identity, IdentityStatus

    attacker = keys.Ed25519PrivateKey.generate()
    fake = Signer(
        Identity("yui", "arn:aws:iam::123456789012:user/yui", "aws", IdentityStatus.VERIFIED),
        "yui",
        attacker,
        t.rules.rules_hash(),
    )
    forged = t.ledger.releases.add_approval(v2, "yui", "Model Risk Manager", "approve", "x")
    fake.sign_approval(t.ledger, t.ledger.registry.model(v2), forged)
    public = keys.public_text(attacker.public_key())
    stmt = {"action": "key.revoke", "member": "yui", "public_key": public, "reason": "x"}
    t.ledger.audit.append(
        "sora",
        "key.revoke",
        "yui",
        {
            "member": "yui",
            "public_key": public,
            "signer": "sora",
            "signer_key": public,
            "statement": {**stmt, "signer": "sora"},
            "signature": keys.sign(attacker, {**stmt, "signer": "sora"}),
        },
    )
    bad = renkei(t, "audit", "verify", env=env["sora"])
    assert bad.exit_code == 1, bad.output
    assert f"approval {forged.id} (approve of {v2} by yui): the signature does not verify" in (
        bad.output
    )


def test_a_rotation_killed_after_its_entry_is_finished_by_running_it_again(
    trained: Trained,
) -> None:
    """The demo's key file (dev mode): a real `renkei keys rotate --ledger` killed between
    recording the rotation and making the new key current; run again, it finishes it."""
    t = trained
    [v] = t.candidates
    _ok(t, "approve", v, "--as", "kenji", "--comment", "ok", env={})
    folder = Path(t.cfg.storage.data_root) / "keys"
    old = keys.public_text(keys.load_key(folder, "ledger").public_key())
    killed = renkei_process(
        t, "keys", "rotate", "--ledger", "--as", "sora", env={"RENKEI_INJECT_FAULT": "rotate-kill"}
    )
    assert killed.returncode == -9, killed.stdout + killed.stderr
    [rotation] = [e for e in t.ledger.audit.entries() if e.action == "key.rotate"]
    new = json.loads(rotation.details)["statement"]["new"]
    assert keys.public_text(keys.load_key(folder, "ledger").public_key()) == old  # not yet
    assert (folder / "ledger.ed25519.pending").exists()
    out = _ok(t, "keys", "rotate", "--ledger", "--as", "sora", env={})
    assert "finished the interrupted rotation" in out and out.strip().endswith(new), out
    assert keys.public_text(keys.load_key(folder, "ledger").public_key()) == new
    assert not (folder / "ledger.ed25519.pending").exists()
    assert [e.action for e in t.ledger.audit.entries()].count("key.rotate") == 1
    _ok(t, "approve", v, "--as", "yui", "--comment", "ok", env={})
    assert _anchors(t)[-1]["public_key"] == new
    out = renkei_process(t, "audit", "verify")
    assert out.returncode == 0 and "note: anchor" not in out.stdout, out.stdout + out.stderr
