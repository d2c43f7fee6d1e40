"""The anchors as witnesses of the audit chain: each checkpoint against the chain, and what
a missing witness means.

Anchoring runs after a write commits (shared.trust.anchors.attach), so a process that dies
between the two leaves that write's entries after the last anchor. That, and nothing else,
is what an unanchored tail may be. The most one crash can leave, with ``anchors.every`` = N
and W the entries of the largest write in the tail (1, or a training run's registration:
one ``model.register`` entry per family, in one transaction):

- up to N - 1 entries before the crashed write, that ``every`` let wait (the next multiple
  of N after the last anchor is at most N entries on),
- the crashed write itself (W entries, holding that multiple of N),
- up to N - 1 entries after it, until the next write that crosses a multiple of N anchors
  again,

so 2N + W - 2 entries: W with the default N = 1 (one write). A longer tail, a store that is
missing or empty below a chain longer than that, or no usable store at all, means
checkpoints were lost or never written, and a rewrite of the tail would not show: `renkei
audit verify` fails on it. `renkei audit anchor` anchors a tail that a crash explains.

Who signs an anchor: the ledger key (flows' tasks, the job role's; the demo's CLI), or, as
the ledger key is granted to the job role alone in production:

- for a write a verified member makes from the CLI, that member's own key
  (:func:`member_anchor_problem` says when such an anchor counts);
- for a write a signed-in user makes in the app (a decision, feedback), the app's service
  key, the one that sealed the write's entries in its own transaction (identity.service_keys;
  shared.trust.entry_seals): it counts only for the app's own writes, an entry that key
  sealed or a decision it signed (:func:`service_anchor_problem`);
- for `renkei audit anchor` run by a member (nobody but the job role holds the ledger key
  in production), that member's key, marked ``catch_up``: it counts only when the entries it
  closes (after the last anchor counted before it) are no more than one crash leaves
  (:func:`catch_up_problem`). Why that is sound: verify already accepts such a tail
  unanchored (a note), so the catch-up never makes a failing chain pass; it only fixes
  entries that were open to a rewrite until the next anchor. A longer tail stays a failure
  whoever signs it.

In every case a key that is not in roles.yaml (or a rotation the chain records) vouches for
nothing: nobody holding only the database can sign an anchor.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from shared.config.identity import IdentitySettings
from shared.trust import keys
from shared.trust.anchors import Checkpoint
from shared.trust.key_history import KeyHistory, key_history


@dataclass(frozen=True)
class AnchorCheck:
    anchors: int
    last_anchored: int  # the newest anchored entry id (0: none)
    problems: list[str]
    unanchored: tuple[int, int] | None  # (first, last) entry ids after the last anchor
    head: tuple[int, str] | None = None  # the chain's last entry (id, hash); None: empty
    notes: list[str] = field(default_factory=list)  # anchors not counted (a retired key's)


def check_anchors(
    entries: list[Any],
    checkpoints: list[Checkpoint],
    settings: IdentitySettings,
    service_writes: dict[int, str] | None = None,
) -> AnchorCheck:
    """The chain (``entries``: id and hash, in order) against every checkpoint.
    ``service_writes``: the entries a service wrote (:func:`service_writes`)."""
    by_id = {e.id: e.hash for e in entries}
    last_entry = entries[-1].id if entries else 0
    problems: list[str] = []
    notes: list[str] = []
    good = 0
    newest = 0
    history = key_history(entries)
    pinned = settings.ledger_key.public if settings.ledger_key else None
    trusted = history.trusted_ledger_keys(pinned)
    actors = {e.id: e.actor for e in entries}
    for cp in sorted(checkpoints, key=lambda c: c.last_id):
        if cp.signer or cp.service:
            closes = [e for e in entries if newest < e.id <= cp.last_id]
            refused = own_key_problem(cp, actors, closes, settings, history, service_writes)
            if refused:
                problems.append(refused)
                continue
        elif trusted is not None and cp.public_key not in trusted:
            problems.append(
                f"anchor of entry {cp.last_id} ({cp.time}): signed by key "
                f"{keys.key_id(cp.public_key)}, neither the ledger key in roles.yaml nor one "
                "a rotation in the chain links to it"
            )
            continue
        if not keys.verify(cp.public_key, cp.statement(), cp.signature):
            problems.append(f"anchor of entry {cp.last_id} ({cp.time}): signature fails")
            continue
        retired = None if cp.signer or cp.service else history.retired_at(cp.public_key)
        if retired is not None and cp.last_id > retired:
            notes.append(
                f"anchor of entry {cp.last_id} ({cp.time}) is signed by the ledger key "
                f"{keys.key_id(cp.public_key)}, rotated away at entry {retired}: not counted "
                "as a witness"
            )
            continue
        newest = max(newest, cp.last_id)
        have = by_id.get(cp.last_id)
        if have is None:
            problems.append(
                f"anchor of entry {cp.last_id} ({cp.time}): entry {cp.last_id} is gone from "
                f"the chain (entries deleted; the chain ends at {last_entry})"
            )
        elif have != cp.last_hash:
            problems.append(
                f"anchor of entry {cp.last_id} ({cp.time}): the chain's hash differs, so an "
                f"entry between {good + 1} and {cp.last_id} was rewritten, deleted or reordered"
            )
        else:
            good = cp.last_id
    tail = (newest + 1, last_entry) if last_entry > newest else None
    head = (entries[-1].id, entries[-1].hash) if entries else None
    return AnchorCheck(len(checkpoints), newest, problems, tail, head, notes)


def own_key_problem(
    cp: Checkpoint,
    actors: dict[int, str],
    closes: list[Any],
    settings: IdentitySettings,
    history: KeyHistory,
    service_writes: dict[int, str] | None,
) -> str | None:
    """Why an anchor signed with a key other than the ledger's is not a witness (None: it
    may be): a service's, a member's own write, or a member's catch-up (``closes``: the
    entries after the last anchor counted before it)."""
    if cp.service:
        return service_anchor_problem(cp, service_writes or {}, settings)
    actor = None if cp.catch_up else actors.get(cp.last_id)
    refused = member_anchor_problem(cp, actor, settings, history)
    if refused is None and cp.catch_up:
        refused = catch_up_problem(cp, closes, settings.anchors.every)
    return refused


def member_anchor_problem(
    cp: Checkpoint, actor: str | None, settings: IdentitySettings, history: KeyHistory
) -> str | None:
    """Why an anchor a member signed (``cp.signer``) is not a witness (None: it may be).
    A member anchors only their own write: the anchored entry's actor is the member, and
    the key is the one roles.yaml lists for them, or one of theirs revoked after that entry
    by a revocation a listed key signed ("as of its time", as for their decisions:
    shared.trust.key_history). Anyone else's anchor, or one made after the revocation, is
    refused."""
    who = cp.signer
    where = f"anchor of entry {cp.last_id} ({cp.time}), signed by {who}"
    rev = history.revocations.get(cp.public_key)
    if rev is not None:
        if cp.last_id > rev.entry:
            return (
                f"{where} with the key {keys.key_id(cp.public_key)} revoked at "
                f"{rev.label()}, before that entry: refused"
            )
        if rev.member != who or not history.vouched(rev, settings):
            return f"{where}: the key {keys.key_id(cp.public_key)} is not {who}'s in roles.yaml"
    elif settings.public_keys.get(who) != cp.public_key:
        return (
            f"{where}: the key {keys.key_id(cp.public_key)} is not the one roles.yaml "
            f"identity.public_keys lists for {who}"
        )
    if actor is not None and actor != who:
        return (
            f"{where}, but entry {cp.last_id} is {actor}'s: a member anchors only their own "
            "writes (the ledger key anchors the rest)"
        )
    return None


def service_anchor_problem(
    cp: Checkpoint, writes: dict[int, str], settings: IdentitySettings
) -> str | None:
    """Why an anchor a service key signed (``cp.service``, the app's) is not a witness
    (None: it may be): the key must be the one roles.yaml identity.service_keys lists under
    that name, and the anchored entry one that service wrote (``writes``)."""
    where = f"anchor of entry {cp.last_id} ({cp.time}), signed by the {cp.service} service key"
    if settings.service_keys.get(cp.service) != cp.public_key:
        return (
            f"{where}: the key {keys.key_id(cp.public_key)} is not the one roles.yaml "
            f"identity.service_keys lists for {cp.service}"
        )
    if writes.get(cp.last_id) != cp.service:
        return (
            f"{where}, but entry {cp.last_id} is not the {cp.service}'s (an entry its key "
            "sealed, or a decision it signed): a service anchors only its own writes"
        )
    return None


SEEN = "model.shadow_evidence_seen"  # shared.monitor.shadow_evidence.SEEN (a layer above trust)


def service_writes(ledger: Any, settings: IdentitySettings) -> dict[int, str]:
    """The entries a service (the app) wrote, entry id -> the service key's name: each entry
    it sealed (shared.trust.entry_seals: every write it makes for a signed-in user, feedback
    included), each decision it signed for a signed-in user (provider oidc), and the note
    that the approver saw the shadow evidence, recorded beside their approval by the same
    actor (ledgers from before entries were sealed)."""
    from shared.trust.entry_seals import entry_seals
    from shared.trust.key_history import ledger_decision_entries

    sigs = ledger.trust.signatures()
    _, positions = ledger_decision_entries(ledger)
    entries = ledger.audit.entries()
    out, _ = entry_seals(ledger, settings, entries)
    approvals: dict[int, tuple[str, str]] = {}
    for (kind, ref), sig in sigs.items():
        if sig.provider != "oidc" or (kind, ref) not in positions:
            continue
        out[positions[(kind, ref)]] = sig.key_name
        if kind == "approval":
            approvals[ref] = (sig.key_name, sig.signer)
    for e in entries:
        if e.action == SEEN:
            by = approvals.get(json.loads(e.details).get("approval"))
            if by is not None and by[1] == e.actor:
                out[e.id] = by[0]
    return out


def catch_up_problem(cp: Checkpoint, closes: list[Any], every: int) -> str | None:
    """Why a member's catch-up anchor is not a witness: it closes (``closes``: the entries
    after the last anchor counted before it) more than one crash between a commit and its
    anchor can leave (module docstring: verify fails on such a tail, whoever anchors it)."""
    allow, _ = crash_allowance(closes, every)
    if len(closes) <= allow:
        return None
    return (
        f"catch-up anchor of entry {cp.last_id} ({cp.time}), signed by {cp.signer}: it vouches "
        f"for {len(closes)} entries after the last anchor, more than a crash between a commit "
        f"and its anchor leaves ({allow}): only the ledger key anchors a longer tail"
    )


def write_sizes(entries: list[Any]) -> list[int]:
    """How many entries each write appended, in order: a training run registers every
    family in one transaction (consecutive ``model.register`` entries of one run); every
    other write appends one entry."""
    sizes: list[int] = []
    previous = None
    for e in entries:
        run = json.loads(e.details).get("run") if e.action == "model.register" else None
        if run is not None and run == previous:
            sizes[-1] += 1
        else:
            sizes.append(1)
        previous = run
    return sizes


def crash_allowance(tail: list[Any], every: int) -> tuple[int, int]:
    """(the most entries one crash between a commit and its anchor can leave unanchored,
    W: the entries of the tail's largest write): 2 * every + W - 2 (module docstring)."""
    w = max(write_sizes(tail), default=1)
    return 2 * every + w - 2, w


def witness_problems(
    entries: list[Any], check: AnchorCheck, every: int, store: str
) -> tuple[list[str], list[str]]:
    """(problems, notes) of the unanchored tail in ``store`` (described)."""
    if check.unanchored is None:
        return [], []
    a, b = check.unanchored
    tail = [e for e in entries if e.id >= a]
    allow, w = crash_allowance(tail, every)
    if len(tail) <= allow:
        return [], [
            f"entries {a}..{b} come after the last anchor: no more than a crash between a "
            f"commit and its anchor can leave ({allow}); `renkei audit anchor` anchors them"
        ]
    why = (
        f"a crash between a commit and its anchor leaves at most {allow} (its write's {w}, "
        f"and up to {every - 1} before and {every - 1} after it that anchors.every: {every} "
        "lets wait)"
    )
    if check.anchors == 0:
        return [
            f"no anchors in {store} (missing or empty) below a chain of {len(tail)} entries: "
            f"{why}; nothing outside the database vouches for entries {a}..{b}: restore the "
            "anchor store"
        ], []
    return [
        f"entries {a}..{b} ({len(tail)}) come after the last anchor (entry {a - 1}) in "
        f"{store}: {why}; checkpoints are missing, so a rewrite of them would not show: "
        "restore the anchor store"
    ], []
