"""Ed25519 key files and signed canonical statements (the ``cryptography`` library).

A key file holds the raw 32-byte private key, base64, mode 0600. A public key is written as
``ed25519:<base64 of the raw 32 bytes>`` (what roles.yaml lists). A statement is a flat JSON
object serialised canonically (sorted keys, no spaces), so the same facts give the same bytes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from shared.config.errors import RenkeiError

PREFIX = "ed25519:"
KEY_DIR_ENV = "RENKEI_KEY_DIR"
LEDGER_KEY = "ledger"  # the key that signs audit anchors


class KeyError_(RenkeiError, RuntimeError):  # noqa: N801 (KeyError is a builtin)
    """A key is missing or unreadable; the message says what to run."""


def key_dir(dev_mode: bool, data_root: str, environ: Mapping[str, str] | None = None) -> Path:
    """Where private keys live: RENKEI_KEY_DIR, else ~/.renkei/keys; in dev mode (the demo)
    <data_root>/keys, beside the demo's data."""
    env = os.environ if environ is None else environ
    if env.get(KEY_DIR_ENV):
        return Path(env[KEY_DIR_ENV])
    if dev_mode and "://" not in data_root:
        return Path(data_root) / "keys"
    return Path.home() / ".renkei" / "keys"


def key_path(folder: Path, name: str) -> Path:
    return folder / f"{name}.ed25519"


def public_text(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return PREFIX + base64.b64encode(raw).decode()


def parse_public(text: str) -> Ed25519PublicKey:
    if not text.startswith(PREFIX):
        raise ValueError(f"not an Ed25519 public key (expected {PREFIX}...): {text[:20]!r}")
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(text[len(PREFIX) :]))


def private_text(key: Ed25519PrivateKey) -> str:
    """The private key as a key file (or a Secrets Manager secret) holds it: raw, base64."""
    raw = key.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    return base64.b64encode(raw).decode()


def parse_private(text: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(base64.b64decode(text.strip()))


def write_key(path: Path, key: Ed25519PrivateKey, replace: bool = True) -> bool:
    """Write ``key`` to ``path`` (mode 0600), whole or not at all (a temporary file renamed;
    ``replace`` False: linked, so a key another process made meanwhile is kept). Returns
    whether it was written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(private_text(key) + "\n")
    if replace:
        os.replace(tmp, path)
        return True
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    finally:
        tmp.unlink()


def init_key(folder: Path, name: str, overwrite: bool = False) -> tuple[Path, bool]:
    """Create ``name``'s key in ``folder`` unless it exists; returns (path, created)."""
    path = key_path(folder, name)
    if path.exists() and not overwrite:
        return path, False
    return path, write_key(path, Ed25519PrivateKey.generate(), replace=overwrite)


def load_key(folder: Path, name: str) -> Ed25519PrivateKey:
    path = key_path(folder, name)
    try:
        return parse_private(path.read_text())
    except FileNotFoundError:
        flag = " --ledger" if name == LEDGER_KEY else ""
        raise KeyError_(
            f"no signing key for {name!r} at {path}: run `renkei keys init{flag}` and list "
            "`renkei keys show` in roles.yaml identity"
        ) from None
    except (OSError, ValueError) as e:
        raise KeyError_(f"cannot read the signing key {path}: {e}") from None


def key_id(public: str) -> str:
    """A short name of a public key (the first 16 hex digits of its sha256), for messages."""
    return hashlib.sha256(public.encode()).hexdigest()[:16]


def canonical(statement: Mapping[str, Any]) -> bytes:
    return json.dumps(dict(statement), sort_keys=True, separators=(",", ":"), default=str).encode()


def sign(key: Ed25519PrivateKey, statement: Mapping[str, Any]) -> str:
    return base64.b64encode(key.sign(canonical(statement))).decode()


def verify(public: str, statement: Mapping[str, Any], signature: str) -> bool:
    """Whether ``signature`` is ``public``'s signature of ``statement`` (never raises)."""
    try:
        parse_public(public).verify(base64.b64decode(signature), canonical(statement))
        return True
    except (InvalidSignature, ValueError, TypeError):
        return False
