"""The OpenSSF signature of a bundle (shared.guard.bundle_sign) and the release keys a load
trusts (shared.trust.release_key), without flows: sign, verify, what each refusal says."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from shared.config.identity import IdentitySettings, ReleaseKeySettings
from shared.guard.bundle_sign import (
    ReleaseKeys,
    new_private_key,
    public_pem,
    public_text,
    sign_bundle,
    signature_problem,
)
from shared.trust.keys import KeyError_
from shared.trust.release_key import (
    FileReleaseKey,
    release_keys,
    release_signer,
    rotate_release_key,
)

DATA = b"PK\x03\x04 a bundle's bytes" * 1000


def test_a_signature_verifies_for_its_bytes_and_key_only() -> None:
    pem = new_private_key()
    keys = ReleaseKeys((public_text(pem),), "roles.yaml identity.release_key")
    sig = sign_bundle(DATA, pem)
    assert signature_problem(DATA, sig, keys) is None
    assert "changed after signing" in (signature_problem(DATA + b"x", sig, keys) or "")
    other = ReleaseKeys((public_text(new_private_key()),), "roles.yaml identity.release_key")
    assert signature_problem(DATA, sig, other) == (
        "signed by a key that roles.yaml identity.release_key does not list"
    )
    both = ReleaseKeys((other.public[0], keys.public[0]), "x")  # a rotated-out key still counts
    assert signature_problem(DATA, sig, both) is None
    assert "unreadable signature" in (signature_problem(DATA, b"not json", keys) or "")
    assert "no release key" in (signature_problem(DATA, sig, ReleaseKeys((), "none")) or "")
    assert public_pem(keys.public[0]).startswith(b"-----BEGIN PUBLIC KEY-----")


def test_release_keys_must_be_elliptic_curve_keys_not_ed25519() -> None:
    with pytest.raises(ValidationError, match="elliptic-curve public keys"):
        ReleaseKeySettings(public="ed25519:AAAA")
    assert IdentitySettings(release_key="ecdsa:AAAA").release_key.public == "ecdsa:AAAA"


def test_which_keys_a_load_trusts_in_dev_mode_and_out_of_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # out of dev mode: ~/.renkei/keys
    monkeypatch.delenv("RENKEI_KEY_DIR", raising=False)
    root = str(tmp_path / "data")
    dev = IdentitySettings(dev_mode=True)
    assert release_keys(dev, root).public == ()  # nothing made yet: nothing signed either
    signer = release_signer(dev, root)  # made on first use, in <data_root>/keys
    assert (tmp_path / "data" / "keys" / "release.ec.pem").stat().st_mode & 0o777 == 0o600
    assert release_keys(dev, root).public == (public_text(signer.private_pem),)
    prod = IdentitySettings(dev_mode=False)
    assert release_keys(prod, root).public == ()  # out of dev mode: only a pin counts
    with pytest.raises(KeyError_, match="renkei keys init --release"):
        release_signer(prod, root)
    other = public_text(new_private_key())
    pinned = IdentitySettings(dev_mode=True, release_key={"public": other})
    with pytest.raises(KeyError_, match="is not listed in roles.yaml identity.release_key"):
        release_signer(pinned, root)  # the folder's key signs nothing no load would accept
    old = public_text(FileReleaseKey(tmp_path / "data" / "keys").load())
    r = rotate_release_key(dev, root)
    assert r.old == old and release_keys(dev, root).public == (r.new, old)
