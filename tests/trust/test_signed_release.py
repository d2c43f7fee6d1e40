"""Signed decisions, identity from AWS (STS GetCallerIdentity on a moto server): each
member signs with their own key; promotion verifies every approval against roles.yaml."""

from __future__ import annotations

import os
from pathlib import Path

import boto3
import pytest

from shared.ledger.trust import TrustRecords
from shared.trust import keys
from tests.builders import Trained
from tests.trust.conftest import one_line_error, release_key_in_secret, renkei, set_identity

pytestmark = pytest.mark.slow


def _members(t: Trained, tmp: Path, names: list[str]) -> dict[str, dict[str, str]]:
    """An IAM user per member (moto), their ARN as login, a key each in their own folder."""
    iam = boto3.client("iam")
    envs, logins = {}, {}
    for name in names:
        iam.create_user(UserName=name)
        k = iam.create_access_key(UserName=name)["AccessKey"]
        envs[name] = {
            "AWS_ACCESS_KEY_ID": k["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": k["SecretAccessKey"],
            "AWS_SESSION_TOKEN": None,
            "RENKEI_KEY_DIR": str(tmp / f"keys-{name}"),
        }
        logins[name] = [f"arn:aws:iam::123456789012:user/{name}"]
    set_identity(t, dev_mode=False, provider="aws", logins=logins)
    public = {}
    for name in names:
        out = renkei(t, "keys", "init", env=envs[name])
        assert out.exit_code == 0 and f"key of {name}" in out.output, out.output
        public[name] = out.output.strip().splitlines()[-1]
    set_identity(t, public_keys=public)
    release_key_in_secret(t, envs[names[-1]])  # promotions sign bundles with it
    return envs


def test_signed_approvals_promote_and_forgeries_are_refused(
    trained2: Trained, tmp_path: Path, moto_server: str
) -> None:
    t = trained2
    v1, v2 = t.candidates
    env = _members(t, tmp_path, ["kenji", "yui", "sora"])
    assert os.environ["AWS_ENDPOINT_URL"] == moto_server
    for who, comment in (("kenji", "zones fine"), ("yui", "risk acceptable")):
        out = renkei(t, "approve", v1, "--comment", comment, env=env[who])
        assert out.exit_code == 0 and f"{who} approved {v1}" in out.output, out.output
    out = renkei(t, "promote", v1, "--to", "production", "--reason", "r1", env=env["sora"])
    assert out.exit_code == 0, out.output
    assert t.ledger.releases.alias("production").version == v1
    sigs = TrustRecords(t.ledger).signatures()
    assert {(s.kind, s.signer, s.identity, s.provider) for s in sigs.values()} == {
        ("approval", "kenji", "verified", "aws"),
        ("approval", "yui", "verified", "aws"),
        ("alias_move", "sora", "verified", "aws"),
    }
    ok = renkei(t, "audit", "verify")
    assert ok.exit_code == 0 and "every signature verifies" in ok.output, ok.output

    # the attack on v2: kenji approves honestly; the Model Risk Manager's approval is forged
    assert renkei(t, "approve", v2, "--comment", "ok", env=env["kenji"]).exit_code == 0
    forged = t.ledger.releases.add_approval(v2, "yui", "Model Risk Manager", "approve", "forged")
    promote_v2 = ["promote", v2, "--to", "production", "--reason", "r2"]
    msg = one_line_error(renkei(t, *promote_v2, env=env["sora"]))
    assert "signed_approvals" in msg and f"approval {forged.id}" in msg
    assert "carries no signature" in msg
    # signed with a key of the attacker's own, claiming to be yui
    from shared.trust.decisions import Signer
    from shared.trust.identity import Identity, IdentityStatus

    attacker_dir = tmp_path / "attacker"
    keys.init_key(attacker_dir, "yui")
    fake = Signer(
        Identity("yui", "arn:aws:iam::123456789012:user/yui", "aws", IdentityStatus.VERIFIED),
        "yui",
        keys.load_key(attacker_dir, "yui"),
        t.rules.rules_hash(),
    )
    fake.sign_approval(t.ledger, t.ledger.registry.model(v2), forged)
    msg = one_line_error(renkei(t, *promote_v2, env=env["sora"]))
    assert "the signature does not verify against yui's public key" in msg, msg
    assert t.ledger.releases.alias("production").version == v1
    bad = renkei(t, "audit", "verify")
    assert bad.exit_code == 1
    assert f"approval {forged.id} (approve of {v2} by yui): the signature does not verify" in (
        bad.output
    )


def test_a_genuine_signature_moved_onto_another_row_does_not_verify(
    trained2: Trained, tmp_path: Path, moto_server: str
) -> None:
    """Copy yui's real signature of v1 onto a forged approval of v2: the statement names v1."""
    t = trained2
    v1, v2 = t.candidates
    env = _members(t, tmp_path, ["kenji", "yui"])
    assert renkei(t, "approve", v1, "--comment", "ok", env=env["yui"]).exit_code == 0
    assert renkei(t, "approve", v2, "--comment", "ok", env=env["kenji"]).exit_code == 0
    forged = t.ledger.releases.add_approval(v2, "yui", "Model Risk Manager", "approve", "ok")
    [real] = [
        s for s in TrustRecords(t.ledger).signatures("approval").values() if s.signer == "yui"
    ]
    TrustRecords(t.ledger).add_signature(
        "approval",
        forged.id,
        signer="yui",
        identity="verified",
        provider="aws",
        login=real.login,
        key_name="yui",
        statement=real.statement,
        signature=real.signature,
        public_key=real.public_key,
    )
    set_identity(t, logins={"sora": ["x"], "kenji": ["k"], "yui": ["y"]}, dev_mode=False)
    from shared.config import load_project_set
    from shared.release import ReleaseRefused, promote

    roles = load_project_set(t.project_path).roles
    with pytest.raises(ReleaseRefused) as e:
        promote(t.ledger, roles, t.cfg, t.rules, v2, "production", "sora", "r", "abc")
    assert e.value.rule == "signed_approvals"
    assert f"the ledger says version='{v2}' but the signed statement says '{v1}'" in str(e.value)
