"""Checkpoints of the audit chain kept outside the database.

After each write (or every ``identity.anchors.every`` entries) a checkpoint (last id, last
hash, time) is signed with the ledger's Ed25519 key and appended to an anchor store the
database cannot rewrite (a member's own CLI writes are anchored with the member's key
instead, see :func:`member_anchor_key`; the app's decisions with its service key, see
:func:`anchoring_with`): a local append-only file by default, or an S3 bucket with Object
Lock in compliance mode (nobody, the account root included, can delete or shorten a
checkpoint before its retention ends). ``renkei audit verify`` checks the chain against
every checkpoint.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from shared.config.identity import AnchorSettings, IdentitySettings
from shared.config.settings import fault_point
from shared.trust import keys


@dataclass(frozen=True)
class Checkpoint:
    last_id: int
    last_hash: str
    time: str
    public_key: str
    signature: str
    signer: str = ""  # a member who anchored their own write with their key ("": the ledger key)
    service: str = ""  # a service key (identity.service_keys, e.g. app) that anchored its write
    catch_up: bool = False  # a member's `renkei audit anchor` of a tail a crash left

    def statement(self) -> dict[str, Any]:
        out: dict[str, Any] = {"last_id": self.last_id, "last_hash": self.last_hash}
        out["time"] = self.time
        if self.signer:
            out["signer"] = self.signer
        if self.service:
            out["service"] = self.service
        if self.catch_up:
            out["catch_up"] = True
        return out

    def to_json(self) -> str:
        """The stored form (a ledger-key checkpoint carries no ``signer``, ``service`` or
        ``catch_up``, as before)."""
        data = asdict(self)
        for name in ("signer", "service", "catch_up"):
            if not data[name]:
                del data[name]
        return json.dumps(data, sort_keys=True)


class AnchorStore(Protocol):
    def append(self, cp: Checkpoint) -> None: ...
    def read(self) -> list[Checkpoint]: ...
    def describe(self) -> str: ...


class LocalAnchors:
    """An append-only JSON-lines file (opened O_APPEND; never rewritten by Renkei)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, cp: Checkpoint) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        with os.fdopen(fd, "a") as f:
            f.write(cp.to_json() + "\n")

    def read(self) -> list[Checkpoint]:
        if not self.path.exists():
            return []
        lines = self.path.read_text().splitlines()
        return [Checkpoint(**json.loads(line)) for line in lines if line.strip()]

    def describe(self) -> str:
        return f"file {self.path}"


class S3Anchors:
    """One object per checkpoint, written with Object Lock in COMPLIANCE mode."""

    def __init__(self, settings: AnchorSettings, client: Any = None) -> None:
        import boto3

        assert settings.bucket
        self.bucket = settings.bucket
        self.prefix = settings.prefix.strip("/")
        self.retain = timedelta(days=settings.retain_days)
        self.client = client or boto3.client("s3", region_name=settings.region)

    def append(self, cp: Checkpoint) -> None:
        self.client.put_object(
            Bucket=self.bucket,
            Key=f"{self.prefix}/{cp.last_id:012d}-{cp.time.replace(':', '')}.json",
            Body=cp.to_json().encode(),
            ObjectLockMode="COMPLIANCE",
            ObjectLockRetainUntilDate=datetime.now(UTC) + self.retain,
        )

    def read(self) -> list[Checkpoint]:
        """Every locked version (a delete marker hides an object from a plain listing, never
        its locked versions: they are read all the same)."""
        out = []
        pages = self.client.get_paginator("list_object_versions").paginate(
            Bucket=self.bucket, Prefix=self.prefix + "/"
        )
        for page in pages:
            for v in page.get("Versions", []):
                body = self.client.get_object(
                    Bucket=self.bucket, Key=v["Key"], VersionId=v["VersionId"]
                )["Body"].read()
                out.append(Checkpoint(**json.loads(body)))
        return sorted(out, key=lambda c: (c.last_id, c.time))

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix} (Object Lock, compliance mode)"


def anchor_store(settings: IdentitySettings, data_root: str) -> AnchorStore:
    a = settings.anchors
    if a.store == "s3":
        return S3Anchors(a)
    if a.path:
        return LocalAnchors(Path(a.path))
    if "://" in data_root:
        raise ValueError(
            "a local anchor file needs a local data root: set identity.anchors.path, or "
            "identity.anchors.store: s3"
        )
    return LocalAnchors(Path(data_root) / "audit-anchors.jsonl")


def ledger_key(settings: IdentitySettings, data_root: str) -> Any:
    """The ledger's current signing key: from its Secrets Manager secret, or the key folder
    (created there on first use): shared.trust.ledger_keys."""
    from shared.trust.ledger_keys import load_ledger_key

    return load_ledger_key(settings, data_root)


def checkpoint(
    key: Any,
    last_id: int,
    last_hash: str,
    signer: str = "",
    service: str = "",
    catch_up: bool = False,
) -> Checkpoint:
    """A signed checkpoint of entry ``last_id``: with the ledger key, with a member's own key
    (``signer``: the member's name) for a write of theirs or a catch-up (``catch_up``), or
    with a service key (``service``: its name in identity.service_keys) for the app's."""
    cp = Checkpoint(
        last_id, last_hash, datetime.now(UTC).isoformat(), "", "", signer, service, catch_up
    )
    return replace(
        cp, public_key=keys.public_text(key.public_key()), signature=keys.sign(key, cp.statement())
    )


@dataclass(frozen=True)
class AnchorKey:
    """A key other than the ledger's that anchors its holder's own writes: a member's
    (``name``: the member) or a service's (``service``: the app, for its signed-in users)."""

    name: str
    key: Any
    service: bool = False

    def checkpoint(self, last_id: int, last_hash: str, catch_up: bool = False) -> Checkpoint:
        if self.service:
            return checkpoint(self.key, last_id, last_hash, service=self.name)
        return checkpoint(self.key, last_id, last_hash, signer=self.name, catch_up=catch_up)


_ACTING: ContextVar[AnchorKey | None] = ContextVar("renkei_anchor_key", default=None)


@contextmanager
def anchoring_with(key: AnchorKey | None) -> Iterator[None]:
    """Anchor the writes made inside this block (this thread: one app session's script run)
    with ``key`` rather than the ledger's key: the app anchors a signed-in user's decision
    with its service key, the one that signed it (None: as without the block)."""
    token = _ACTING.set(key)
    try:
        yield
    finally:
        _ACTING.reset(token)


def member_anchor_key(identity: Any, settings: IdentitySettings) -> AnchorKey | None:
    """The key a member's CLI anchors its own writes with: the verified member's signing key
    (the key folder), when roles.yaml lists its public half; None otherwise (dev mode, an
    unverified or unlisted member: the ledger key anchors).

    Why: in production the ledger key is granted to the Batch job role and nothing else
    (`renkei deploy aws --print-iam`), so an operator's decision (approve, promote,
    rollback) could not be anchored with it, and two of them in a row would leave more
    entries unanchored than a crash explains. The member signs a checkpoint of the chain at
    their own write instead; `renkei audit verify` counts it only when the anchored entry is
    that member's and their key is listed in roles.yaml (or revoked after that entry:
    shared.trust.witness). Nobody holding only the database can sign either kind."""
    if identity is None or not identity.verified:
        return None
    listed = settings.public_keys.get(identity.member)
    if listed is None:
        return None
    try:
        key = keys.load_key(keys.key_dir(False, ""), identity.member)
    except keys.KeyError_:
        return None
    return AnchorKey(identity.member, key) if keys.public_text(key.public_key()) == listed else None


def attach(
    ledger: Any,
    settings: IdentitySettings,
    data_root: str,
    member: Callable[[], AnchorKey | None] | None = None,
) -> None:
    """Anchor the ledger's chain after each write that crosses a multiple of ``every``
    (when no store fits, a remote data root without an anchor path or bucket, each write
    warns on stderr; `renkei audit verify` fails on it). ``member``: who this process acts
    as, asked on its first write (:func:`member_anchor_key`); their writes are anchored
    with their key, others with the ledger key; inside :func:`anchoring_with`, with its
    key."""
    try:
        store = anchor_store(settings, data_root)
    except ValueError as e:
        why = str(e)

        def unanchored(first: int, last: int, last_hash: str) -> None:
            print(f"warning: audit entries {first}..{last} not anchored: {why}", file=sys.stderr)

        ledger.on_commit = unanchored
        return
    every = settings.anchors.every
    state: dict[str, Any] = {}

    def on_commit(first: int, last: int, last_hash: str) -> None:
        if every > 1 and (first - 1) // every == last // every:
            return
        fault_point("anchor")  # reliability tests: a crash between a commit and its anchor
        try:
            acting = _ACTING.get()
            if acting is not None:
                store.append(acting.checkpoint(last, last_hash))
                return
            if "member" not in state:
                state["member"] = member() if member else None
            if state["member"] is not None:
                store.append(state["member"].checkpoint(last, last_hash))
                return
            if "key" not in state:
                state["key"] = ledger_key(settings, data_root)
            store.append(checkpoint(state["key"], last, last_hash))
        except Exception as e:  # the write is committed; verify reports it unanchored
            print(
                f"warning: audit entry {last} not anchored to {store.describe()}: {e} "
                "(`renkei audit anchor` catches up)",
                file=sys.stderr,
            )

    ledger.on_commit = on_commit


def open_anchored(
    url: str,
    settings: IdentitySettings,
    data_root: str,
    member: Callable[[], AnchorKey | None] | None = None,
    **kw: Any,
) -> Any:
    """Open the ledger at ``url`` with its audit chain anchored after each write."""
    from shared.ledger import Ledger

    ledger = Ledger.open(url, **kw)
    attach(ledger, settings, data_root, member)
    return ledger
