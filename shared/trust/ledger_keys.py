"""Where the ledger's private key lives: the key folder, or an AWS Secrets Manager secret.

roles.yaml ``identity.ledger_key.secret`` names the secret (name or ARN): Batch tasks (the
job role may read that one secret: shared.deploy.iam) and the CLI read the key from it, so
nothing is copied by hand. Without it the key is the file ``ledger.ed25519`` in the key
folder (shared.trust.keys.key_dir; the demo's). Both hold the raw private key, base64.

A rotation (shared.trust.rotation) stages the next key beside the current one (the file
``ledger.ed25519.pending``; the secret's version labelled ``AWSPENDING``), records it in the
ledger, then makes it current (the file renamed over; ``AWSCURRENT`` moved onto that
version, the old one left labelled ``AWSPREVIOUS`` by Secrets Manager).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.config.identity import IdentitySettings
from shared.trust import keys
from shared.trust.keys import KeyError_
from shared.trust.secret_store import CURRENT, PENDING, SecretKey


class LedgerKeyStore(Protocol):
    def load(self) -> Ed25519PrivateKey: ...
    def create(self) -> tuple[Ed25519PrivateKey, bool]: ...
    def stage(self, key: Ed25519PrivateKey) -> None: ...
    def staged(self) -> Ed25519PrivateKey | None: ...
    def promote(self) -> None: ...
    def describe(self) -> str: ...


class FileLedgerKey:
    """``ledger.ed25519`` in the key folder (mode 0600)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = keys.key_path(folder, keys.LEDGER_KEY)
        self.pending = self.path.with_name(self.path.name + ".pending")

    def load(self) -> Ed25519PrivateKey:
        return keys.load_key(self.folder, keys.LEDGER_KEY)

    def create(self) -> tuple[Ed25519PrivateKey, bool]:
        _, created = keys.init_key(self.folder, keys.LEDGER_KEY)
        return self.load(), created

    def stage(self, key: Ed25519PrivateKey) -> None:
        keys.write_key(self.pending, key)

    def staged(self) -> Ed25519PrivateKey | None:
        try:
            return keys.parse_private(self.pending.read_text())
        except FileNotFoundError:
            return None

    def promote(self) -> None:
        os.replace(self.pending, self.path)

    def describe(self) -> str:
        return f"the key file {self.path}"


class SecretLedgerKey(SecretKey):
    """An AWS Secrets Manager secret whose AWSCURRENT value is the key."""

    what = "ledger key"
    setting = "identity.ledger_key.secret"
    description = "Renkei: the ledger's Ed25519 key (signs audit anchors)"

    def _get(self, stage: str) -> Ed25519PrivateKey | None:
        text = self.text(stage)
        if text is None:
            return None
        try:
            return keys.parse_private(text)
        except (KeyError, ValueError) as e:
            raise KeyError_(
                f"{self.describe()} does not hold an Ed25519 key ({e}): run `renkei keys "
                "rotate --ledger` to put a new one"
            ) from None

    def load(self) -> Ed25519PrivateKey:
        key = self._get(CURRENT)
        if key is None:
            raise KeyError_(
                f"no ledger key in {self.describe()}: run `renkei keys init --ledger` (it "
                "creates the secret) and list `renkei keys show --ledger` in roles.yaml"
            )
        return key

    def create(self) -> tuple[Ed25519PrivateKey, bool]:
        key = self._get(CURRENT)
        if key is not None:
            return key, False
        key = Ed25519PrivateKey.generate()
        self.create_text(keys.private_text(key))
        return key, True

    def stage(self, key: Ed25519PrivateKey) -> None:
        self.stage_text(keys.private_text(key))

    def staged(self) -> Ed25519PrivateKey | None:
        return self._get(PENDING)

    def promote(self) -> None:
        self.promote_pending()


def ledger_key_store(settings: IdentitySettings, data_root: str) -> LedgerKeyStore:
    """Where this project's ledger key lives (roles.yaml identity.ledger_key)."""
    lk = settings.ledger_key
    if lk is not None and lk.secret:
        return SecretLedgerKey(lk.secret, lk.region)
    return FileLedgerKey(keys.key_dir(settings.dev_mode, data_root))


def load_ledger_key(settings: IdentitySettings, data_root: str) -> Ed25519PrivateKey:
    """The ledger's current signing key. A key file is made on first use (the demo); a
    secret must exist (`renkei keys init --ledger`)."""
    store = ledger_key_store(settings, data_root)
    if isinstance(store, FileLedgerKey):
        return store.create()[0]
    return store.load()
