"""Served bundles signed in the OpenSSF model-signing format (the ``model-signing`` package).

A bundle is signed as a one-file model with the release key (elliptic curve P-256/384/521):
the signature is a Sigstore bundle (a DSSE envelope of an in-toto statement that names the
bundle's sha256) stored beside it as ``<bundle>.sig``. The package's own CLI verifies it::

    model_signing verify key BUNDLE.zip --signature BUNDLE.zip.sig --public_key release.pub

Every load verifies the bytes it read (after their sha256) against the public keys pinned in
roles.yaml ``identity.release_key`` (:class:`ReleaseKeys`), so a bundle changed together with
its recorded sha256 is still refused. model_signing (with sigstore under it) takes about a
second to import, so it is imported at sign and verify time only, once per process.
"""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from shared.config.identity import RELEASE_KEY_PREFIX

SIGNATURE_SUFFIX = ".sig"
CURVES = {"P-256": ec.SECP256R1, "P-384": ec.SECP384R1, "P-521": ec.SECP521R1}
_NAME = "bundle.zip"  # the name the signed file has while signing or verifying (not signed)


@dataclass(frozen=True)
class ReleaseKeys:
    """The public release keys a load trusts (``ecdsa:...``, the current one first) and
    where they come from (for messages)."""

    public: tuple[str, ...]
    source: str


def signature_uri(bundle_uri: str) -> str:
    """Where a bundle's signature lives: beside it."""
    return bundle_uri + SIGNATURE_SUFFIX


def new_private_key(curve: str = "P-256") -> bytes:
    """A new release key, PEM (PKCS#8, unencrypted: it lives in a 0600 file or a secret)."""
    key = ec.generate_private_key(CURVES[curve]())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def public_text(private_pem: bytes) -> str:
    """The public half of a release key as roles.yaml lists it (``ecdsa:<base64 DER>``)."""
    key = serialization.load_pem_private_key(private_pem, None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError("not an elliptic-curve key (the release key must be P-256/384/521)")
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return RELEASE_KEY_PREFIX + base64.b64encode(der).decode()


def public_pem(text: str) -> bytes:
    """A listed public key as PEM (what ``model_signing verify key --public_key`` reads)."""
    if not text.startswith(RELEASE_KEY_PREFIX):
        raise ValueError(f"not a release public key ({RELEASE_KEY_PREFIX}...): {text[:20]!r}")
    key = serialization.load_der_public_key(base64.b64decode(text[len(RELEASE_KEY_PREFIX) :]))
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def key_id(text: str) -> str:
    """A short name of a public key (the first 16 hex digits of its sha256), for messages."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@contextmanager
def _workdir(data: bytes) -> Iterator[Path]:
    """A private temporary folder (0700) holding ``data`` as the file to sign or verify."""
    with tempfile.TemporaryDirectory(prefix="renkei-sign-") as tmp:
        (Path(tmp) / _NAME).write_bytes(data)
        yield Path(tmp)


def _private_file(folder: Path, private_pem: bytes) -> Path:
    path = folder / "release.pem"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(private_pem)
    return path


def sign_bundle(data: bytes, private_pem: bytes) -> bytes:
    """The OpenSSF model-signing signature of bundle bytes ``data`` with the release key.
    The key is written only inside a private temporary folder (0600), removed at once."""
    from model_signing import signing  # about a second: only when a bundle is signed

    with _workdir(data) as tmp:
        key = _private_file(tmp, private_pem)
        try:
            config = signing.Config().use_elliptic_key_signer(private_key=key)
        finally:
            key.unlink()
        config.sign(tmp / _NAME, tmp / "bundle.sig")
        return (tmp / "bundle.sig").read_bytes()


def signature_problem(data: bytes, signature: bytes, keys: ReleaseKeys) -> str | None:
    """Why ``signature`` is not a release key's signature of ``data`` (None: it is)."""
    if not keys.public:
        return f"no release key to verify it with ({keys.source})"
    from model_signing import verifying  # about a second: once per process

    problems = []
    with _workdir(data) as tmp:
        (tmp / "bundle.sig").write_bytes(signature)
        for i, text in enumerate(keys.public):
            pub = tmp / f"release-{i}.pub"
            try:
                pub.write_bytes(public_pem(text))
                verifying.Config().use_elliptic_key_verifier(public_key=pub).verify(
                    tmp / _NAME, tmp / "bundle.sig"
                )
                return None
            except Exception as e:  # noqa: BLE001 (any failure refuses: fail closed)
                problems.append(_why(e))
    if all(p.startswith("signed by another key") for p in problems):
        return f"signed by a key that {keys.source} does not list"
    return next(p for p in problems if not p.startswith("signed by another key"))


def _why(e: Exception) -> str:
    text = str(e)
    if text.startswith("Key mismatch"):
        return "signed by another key"
    if text.startswith("Signature mismatch"):
        return "its content is not what the release key signed (changed after signing)"
    if "signature" in type(e).__name__.lower():
        return "the signature does not verify with the release key"
    line = (text.strip().splitlines() or [type(e).__name__])[0]
    return f"unreadable signature ({line[:120]})"
