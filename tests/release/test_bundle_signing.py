"""Served bundles signed in the OpenSSF model-signing format (issue 27, item 2): a promotion
and a shadow attach sign the bundle with the release key (elliptic curve, in its key store),
the signature lies beside the bundle, the package's own `model_signing verify` accepts it,
and every load (the service over HTTP, the score flow, `renkei rollback`, a shadow) refuses a
bundle changed together with its recorded sha256. Through the CLI, the flows and HTTP."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest
import yaml
from sqlalchemy import text

from shared.data import storage
from shared.guard.bundle import BundleError, load_bundle, load_deployed
from shared.guard.bundle_sign import new_private_key, public_text, signature_uri
from shared.ledger import DeploymentRecord
from shared.ledger.releases import shadow_alias
from shared.release import load_alias
from tests.builders import Trained, build
from tests.conftest import REPO, stop_process, wait_for_http
from tests.flows.helpers import SCORE, cli_run
from tests.service.test_http import ROW, start_service

pytestmark = pytest.mark.slow

MODEL_SIGNING = str(Path(sys.executable).with_name("model_signing"))  # the package's CLI


def renkei(t: Trained, *args: str, ok: bool = True) -> str:
    """`renkei --config <t's project> ARGS` as a process; its output (one line on refusal)."""
    p = subprocess.run(
        [sys.executable, "-m", "shared.cli", "--config", str(t.project_path), *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "RENKEI_LEDGER_URL": ""},
        timeout=300,
    )
    if ok:
        assert p.returncode == 0, p.stdout + p.stderr
        return p.stdout
    assert p.returncode != 0, p.stdout
    assert "Traceback" not in p.stderr, p.stderr
    [line] = [x for x in p.stderr.splitlines() if x.strip()]
    return line


def keys_now(t: Trained):
    """The release keys as roles.yaml says now (the test rewrites it)."""
    from shared.config import load_project_set
    from shared.trust.release_key import release_keys

    return release_keys(load_project_set(t.project_path).roles.identity, t.cfg.storage.data_root)


def approve_both(t: Trained, version: str) -> None:
    for who in ("kenji", "yui"):
        renkei(t, "approve", version, "--as", who, "--comment", "ok")


def forge(t: Trained, dep: DeploymentRecord) -> bytes:
    """Change ``dep``'s bundle as an attacker with write access to storage and the ledger
    would: a file inside edited, the manifest's hash of it fixed, the bundle rewritten in
    place and the deployment's recorded sha256 set to the new bytes'. Only the release
    signature (unchanged beside it) can tell."""
    with zipfile.ZipFile(io.BytesIO(storage.read_bytes(dep.bundle_uri))) as z:
        files = {n: z.read(n) for n in z.namelist()}
    manifest = json.loads(files["manifest.json"])
    rules = json.loads(files["rules.json"])
    rules["input"] = []  # every input guard off
    files["rules.json"] = json.dumps(rules).encode()
    manifest["files"]["rules.json"] = hashlib.sha256(files["rules.json"]).hexdigest()
    files["manifest.json"] = json.dumps(manifest).encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    forged = buf.getvalue()
    Path(dep.bundle_uri).write_bytes(forged)
    with t.ledger.engine.begin() as c:
        c.execute(
            text("update deployments set bundle_sha256 = :s where id = :i"),
            {"s": hashlib.sha256(forged).hexdigest(), "i": dep.id},
        )
    assert load_bundle(forged).rules.input == []  # without the signature check it would load
    return forged


@pytest.fixture
def trained(tmp_path: Path) -> Trained:
    return build(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}", runs=2)


def test_a_promoted_bundle_is_openssf_signed_and_model_signing_verify_says_so(
    trained: Trained, tmp_path: Path
) -> None:
    t = trained
    v1, _ = t.candidates
    approve_both(t, v1)
    renkei(t, "promote", v1, "--to", "production", "--as", "sora")
    dep = t.ledger.releases.alias("production")
    sig = Path(signature_uri(dep.bundle_uri))
    # the signature beside the bundle: a Sigstore bundle holding a DSSE envelope of an
    # in-toto statement in the model-signing predicate, naming the bundle's sha256
    envelope = json.loads(sig.read_text())
    assert envelope["mediaType"].startswith("application/vnd.dev.sigstore.bundle")
    statement = json.loads(base64.b64decode(envelope["dsseEnvelope"]["payload"]))
    assert statement["predicateType"] == "https://model_signing/signature/v1.0"
    [resource] = statement["predicate"]["resources"]
    assert resource["digest"] == dep.bundle_sha256
    # its public half as a PEM file, from `renkei keys show --release --pem`
    pub = tmp_path / "release.pub"
    pub.write_text(renkei(t, "keys", "show", "--release", "--pem"))
    listed = renkei(t, "keys", "show", "--release").strip()
    assert listed.startswith("ecdsa:") and listed in t.keys.public

    def verify(bundle: Path) -> subprocess.CompletedProcess:
        return subprocess.run(
            [MODEL_SIGNING, "verify", "key", str(bundle), "--signature", str(sig)]
            + ["--public_key", str(pub)],
            capture_output=True,
            text=True,
            timeout=300,
        )

    ok = verify(Path(dep.bundle_uri))
    assert ok.returncode == 0 and "Verification succeeded" in ok.stdout, ok.stdout + ok.stderr
    changed = tmp_path / "changed.zip"
    good = Path(dep.bundle_uri).read_bytes()
    changed.write_bytes(good[:300] + bytes([good[300] ^ 1]) + good[301:])
    bad = verify(changed)
    assert bad.returncode != 0 and "Verification failed" in bad.stdout + bad.stderr, bad.stdout
    # another key (not the release key) does not verify it either
    other = tmp_path / "other.pub"
    from shared.guard.bundle_sign import public_pem

    other.write_bytes(public_pem(public_text(new_private_key())))
    pub.write_bytes(other.read_bytes())
    assert verify(Path(dep.bundle_uri)).returncode != 0


def test_a_bundle_changed_with_its_sha256_is_refused_at_every_load(trained: Trained) -> None:
    t = trained
    v1, v2 = t.candidates
    for v in (v1, v2):
        approve_both(t, v)
    renkei(t, "promote", v1, "--to", "production", "--as", "sora")
    first = t.ledger.releases.alias("production")
    renkei(t, "promote", v2, "--to", "production", "--as", "sora")
    said = renkei(t, "shadow", v1, "--as", "sora")  # shadow attach signs v1's new bundle
    assert f"{v1} now shadows production" in said
    shadow = t.ledger.releases.alias(shadow_alias("production"))
    assert Path(signature_uri(shadow.bundle_uri)).exists()
    load_deployed(shadow, t.keys)  # untouched: loads

    # 1. the shadow's bundle changed: the score flow refuses it in its tasks
    forge(t, shadow)
    p = cli_run(SCORE, "--config", "project", str(t.project_path), "run", "--rows", "300")
    out = p.stdout + p.stderr
    assert p.returncode != 0 and "fails its release signature" in out, out[-3000:]
    assert f"deployment {shadow.id} ({v1} as production-shadow)" in out
    assert "Internal error" not in out and t.ledger.operations.scoring_batches() == []

    # 2. production's bundle changed: the score flow, the service over HTTP and the app's
    # path refuse it, naming the signature
    prod = t.ledger.releases.alias("production")
    forge(t, prod)
    renkei(t, "shadow", "--off", "--as", "sora")
    p = cli_run(SCORE, "--config", "project", str(t.project_path), "run", "--rows", "300")
    out = p.stdout + p.stderr
    assert p.returncode != 0 and "fails its release signature" in out, out[-3000:]
    assert "changed after signing" in out and t.ledger.runs.all()[-1].status == "failed"
    proc, base, _ = start_service(t.project_path)
    try:
        wait_for_http(f"{base}/health", proc)
        with httpx.Client(base_url=base, timeout=10, trust_env=False) as c:
            health = c.get("/health").json()
            assert health["status"] == "degraded", health
            assert "fails its release signature" in health["failed"]["reason"]
            assert c.post("/predict", json=ROW).status_code == 503
    finally:
        stop_process(proc)
    with pytest.raises(BundleError, match="release signature"):
        load_alias(t.ledger, keys=t.keys)

    # 3. the version rolled back to has its bundle changed: `renkei rollback` refuses
    forge(t, first)
    line = renkei(t, "rollback", "--as", "sora", ok=False)
    assert "bundle_verified" in line or "release signature" in line, line
    assert "fails its release signature" in line
    assert t.ledger.releases.alias("production").version == v2


def test_unsigned_or_foreign_signed_bundles_and_an_unlisted_release_key_are_refused(
    trained: Trained,
) -> None:
    t = trained
    v1, v2 = t.candidates
    approve_both(t, v1)
    renkei(t, "promote", v1, "--to", "production", "--as", "sora")
    dep = t.ledger.releases.alias("production")
    sig = Path(signature_uri(dep.bundle_uri))
    good = sig.read_bytes()
    sig.unlink()  # unsigned
    with pytest.raises(BundleError, match="is unsigned"):
        load_deployed(dep, keys_now(t))
    sig.write_bytes(good)
    load_deployed(dep, keys_now(t))
    # roles.yaml pins another release key: what the key folder's key signed is refused, and
    # neither a promotion nor a shadow attach signs with a key no load would accept
    roles = t.project_path.parent / "roles.yaml"
    data = yaml.safe_load(roles.read_text())
    data["identity"]["release_key"] = public_text(new_private_key())
    roles.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(BundleError, match="signed by a key that roles.yaml"):
        load_deployed(dep, keys_now(t))
    line = renkei(t, "shadow", v2, "--as", "sora", ok=False)
    assert "is not listed in roles.yaml identity.release_key" in line, line
    assert t.ledger.releases.alias(shadow_alias("production")) is None
    approve_both(t, v2)
    line = renkei(t, "promote", v2, "--to", "production", "--as", "sora", ok=False)
    assert "is not listed in roles.yaml identity.release_key" in line, line
    # the key rotated: its old public half kept as previous, bundles it signed load; new
    # promotions sign with the new key once roles.yaml pins it
    data["identity"]["release_key"] = None
    roles.write_text(yaml.safe_dump(data, sort_keys=False))
    old = keys_now(t).public[0]
    said = renkei(t, "keys", "rotate", "--release")
    new = said.strip().splitlines()[-2].removeprefix("new: ")
    assert keys_now(t).public == (new, old)
    # audited: the chain names both keys, each signed the hand-over, and the chain verifies
    [entry] = [e for e in t.ledger.audit.entries() if e.action == "release_key.rotate"]
    stmt = json.loads(entry.details)["statement"]
    assert (stmt["old"], stmt["new"]) == (old, new) and f"audit entry {entry.id}" in said
    assert "chain OK" in renkei(t, "audit", "verify")
    # a rotation entry the old key did not sign (appended as the ledger would) is reported
    forged = new_private_key()
    fake = {**stmt, "new": public_text(forged)}
    from shared.trust.release_key import sign_statement

    sig = sign_statement(forged, fake)
    t.ledger.audit.append(
        "mallory",
        "release_key.rotate",
        "release",
        {"statement": fake, "old_signature": sig, "new_signature": sig},
    )
    verify = subprocess.run(
        [sys.executable, "-m", "shared.cli", "--config", str(t.project_path), "audit", "verify"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "RENKEI_LEDGER_URL": ""},
        timeout=300,
    )
    assert verify.returncode == 1, verify.stdout + verify.stderr
    assert "the release key rotation is not signed by the old key" in verify.stderr
    load_deployed(dep, keys_now(t))
    renkei(t, "promote", v2, "--to", "production", "--as", "sora")
    load_deployed(t.ledger.releases.alias("production"), keys_now(t))
