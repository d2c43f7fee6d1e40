"""The release key: the elliptic-curve key (P-256) that signs served bundles in the OpenSSF
model-signing format (shared.guard.bundle_sign), and the public keys every load trusts.

Its private half lives where the ledger key does (shared.trust.ledger_keys): roles.yaml
``identity.release_key.secret`` names an AWS Secrets Manager secret (name or ARN) that the
operator's CLI reads (granted by `renkei deploy aws --print-iam`), so nothing is copied by
hand; without one it is the file ``release.ec.pem`` (PEM, mode 0600) in the key folder, made
on first use in dev mode (the demo). Its public half is pinned in roles.yaml
``identity.release_key.public`` beside the decision keys; in dev mode, where none is pinned,
the key folder's own key is trusted. A rotation stages the next key beside the current one
(``.pending`` file; the secret's ``AWSPENDING`` version), then makes it current; the old
public half goes to ``identity.release_key.previous`` so bundles it signed keep loading.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from shared.config.identity import IdentitySettings
from shared.guard.bundle_sign import ReleaseKeys, new_private_key, public_pem, public_text
from shared.trust import keys
from shared.trust.keys import KeyError_, canonical
from shared.trust.secret_store import CURRENT, SecretKey

RELEASE_KEY_FILE = "release.ec.pem"
PREVIOUS_FILE = "release.previous"  # dev mode: public halves rotated out, one a line
PINNED = "roles.yaml identity.release_key"
INIT = "run `renkei keys init --release` and list `renkei keys show --release` in " + PINNED


def _parse(pem: str, where: str) -> bytes:
    try:
        public_text(pem.encode())
    except ValueError as e:
        raise KeyError_(
            f"{where} does not hold an elliptic-curve release key ({e}): run `renkei keys "
            "rotate --release` to put a new one"
        ) from None
    return pem.encode()


class FileReleaseKey:
    """``release.ec.pem`` in the key folder (mode 0600)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / RELEASE_KEY_FILE
        self.pending = self.path.with_name(self.path.name + ".pending")

    def _write(self, path: Path, pem: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        os.replace(tmp, path)

    def exists(self) -> bool:
        return self.path.exists()

    def load(self) -> bytes:
        try:
            return _parse(self.path.read_text(), self.describe())
        except FileNotFoundError:
            raise KeyError_(f"no release key at {self.path}: {INIT}") from None

    def create(self) -> tuple[bytes, bool]:
        if self.path.exists():
            return self.load(), False
        self._write(self.path, new_private_key())
        return self.load(), True

    def stage(self, pem: bytes) -> None:
        self._write(self.pending, pem)

    def promote(self, old_public: str) -> None:
        with (self.folder / PREVIOUS_FILE).open("a") as f:
            f.write(old_public + "\n")
        os.replace(self.pending, self.path)

    def previous(self) -> list[str]:
        try:
            return (self.folder / PREVIOUS_FILE).read_text().split()
        except FileNotFoundError:
            return []

    def describe(self) -> str:
        return f"the key file {self.path}"


class SecretReleaseKey(SecretKey):
    """An AWS Secrets Manager secret whose AWSCURRENT value is the key (PEM)."""

    what = "release key"
    setting = "identity.release_key.secret"
    description = "Renkei: the release key (signs served model bundles, OpenSSF format)"

    def _get(self, stage: str) -> bytes | None:
        text = self.text(stage)
        return None if text is None else _parse(text, self.describe())

    def exists(self) -> bool:
        return self._get(CURRENT) is not None

    def load(self) -> bytes:
        pem = self._get(CURRENT)
        if pem is None:
            raise KeyError_(f"no release key in {self.describe()}: {INIT} (it creates the secret)")
        return pem

    def create(self) -> tuple[bytes, bool]:
        pem = self._get(CURRENT)
        if pem is not None:
            return pem, False
        pem = new_private_key()
        self.create_text(pem.decode())
        return pem, True

    def stage(self, pem: bytes) -> None:
        self.stage_text(pem.decode())

    def promote(self, old_public: str) -> None:
        self.promote_pending()  # the old version keeps AWSPREVIOUS

    def previous(self) -> list[str]:
        return []


ReleaseKeyStore = FileReleaseKey | SecretReleaseKey


def release_key_store(settings: IdentitySettings, data_root: str) -> ReleaseKeyStore:
    """Where this project's release key lives (roles.yaml identity.release_key.secret, else
    the key folder)."""
    rk = settings.release_key
    if rk is not None and rk.secret:
        return SecretReleaseKey(rk.secret, rk.region)
    return FileReleaseKey(keys.key_dir(settings.dev_mode, data_root))


def release_keys(settings: IdentitySettings, data_root: str) -> ReleaseKeys:
    """The public release keys every load of a bundle trusts: roles.yaml's pin (and the
    keys rotated out before it); in dev mode without a pin, the key store's own key."""
    rk = settings.release_key
    if rk is not None and rk.public:
        return ReleaseKeys((rk.public, *rk.previous), PINNED)
    if not settings.dev_mode:
        return ReleaseKeys((), f"{PINNED} is not set: {INIT}")
    store = release_key_store(settings, data_root)
    if not store.exists():
        return ReleaseKeys((), f"dev mode and no release key yet in {store.describe()}")
    current = public_text(store.load())
    return ReleaseKeys((current, *store.previous()), f"dev mode: {store.describe()}")


@dataclass(frozen=True)
class ReleaseSigner:
    """What a promotion or shadow attach signs a bundle with, and what verifies it."""

    private_pem: bytes
    trusted: ReleaseKeys
    where: str  # the store, described


def release_signer(settings: IdentitySettings, data_root: str) -> ReleaseSigner:
    """The current release key (made on first use in dev mode, with a key file) and the
    keys a load will trust; refused when the key is not among them."""
    store = release_key_store(settings, data_root)
    if settings.dev_mode and isinstance(store, FileReleaseKey):
        pem = store.create()[0]
    else:
        pem = store.load()
    trusted = release_keys(settings, data_root)
    public = public_text(pem)
    if public not in trusted.public:
        raise KeyError_(
            f"the release key in {store.describe()} ({keys.key_id(public)}) is not listed in "
            f"{PINNED}.public, so no load would accept what it signs: list `renkei keys show "
            "--release` there"
        )
    return ReleaseSigner(pem, trusted, store.describe())


def sign_statement(private_pem: bytes, statement: Mapping[str, Any]) -> str:
    """A release key's ECDSA (SHA-256) signature of a canonical statement, base64."""
    key = serialization.load_pem_private_key(private_pem, None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise KeyError_("the release key is not an elliptic-curve key")
    return base64.b64encode(key.sign(canonical(statement), ec.ECDSA(hashes.SHA256()))).decode()


def statement_verifies(public: str, statement: Mapping[str, Any], signature: str) -> bool:
    """Whether ``signature`` is the release key ``public``'s signature of ``statement``."""
    try:
        key = serialization.load_pem_public_key(public_pem(public))
        if not isinstance(key, ec.EllipticCurvePublicKey):
            return False
        key.verify(base64.b64decode(signature), canonical(statement), ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


@dataclass(frozen=True)
class ReleaseRotated:
    old: str
    new: str
    store: str
    entry: int | None = None  # the audit entry that records it


# what records a rotation between staging the new key and making it current: given the
# statement and both keys' signatures of it, returns the audit entry
Recorder = Callable[[dict[str, Any], str, str], int]


def rotation_statement(old: str, new: str, time: str) -> dict[str, Any]:
    """What both release keys sign when the first hands over to the second."""
    return {"action": "release_key.rotate", "key": "release", "old": old, "new": new, "time": time}


def rotate_release_key(
    settings: IdentitySettings, data_root: str, record: Recorder | None = None, time: str = ""
) -> ReleaseRotated:
    """Replace the release key by a new one where it lives. ``record`` (the audit chain)
    gets the rotation, signed by both keys, after the new key is staged and before it is
    current: a failure there leaves the old key current. Bundles signed with the old one
    keep loading while its public half is in identity.release_key.previous (dev mode: kept
    in the key folder)."""
    store = release_key_store(settings, data_root)
    old_pem = store.load()
    old = public_text(old_pem)
    pem = new_private_key()
    new = public_text(pem)
    store.stage(pem)
    entry = None
    if record is not None:
        stmt = rotation_statement(old, new, time)
        entry = record(stmt, sign_statement(old_pem, stmt), sign_statement(pem, stmt))
    store.promote(old)
    return ReleaseRotated(old, new, store.describe(), entry)
