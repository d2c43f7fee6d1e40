"""The seals of audit entries the app wrote for its signed-in users (shared.ledger.seals):
which entries a service key sealed, and the seals that do not hold.

An entry's seal counts when roles.yaml identity.service_keys lists the key under its name,
the signature verifies and the statement names that entry (its id and hash, action, actor
and subject): then the entry is that service's write, and its anchor counts
(shared.trust.witness.service_anchor_problem). Nobody holding only the database can seal
an entry: the seal needs the service's private key.
"""

from __future__ import annotations

from typing import Any

from shared.config.identity import IdentitySettings
from shared.ledger.seals import ENTRY, entry_statement
from shared.trust.decisions import signature_problem


def entry_seals(
    ledger: Any, settings: IdentitySettings, entries: list[Any] | None = None
) -> tuple[dict[int, str], list[str]]:
    """(entry id -> the service key's name, for each entry whose seal holds; the problems of
    the seals that do not: a seal of a missing entry, a wrong key, a failing signature, a
    statement naming another entry)."""
    sigs = [s for (kind, _), s in ledger.trust.signatures(ENTRY).items() if kind == ENTRY]
    if not sigs:
        return {}, []
    by_id = {e.id: e for e in (entries if entries is not None else ledger.audit.entries())}
    sealed: dict[int, str] = {}
    problems: list[str] = []
    for sig in sigs:
        what = f"the seal of audit entry {sig.ref_id} (signed by {sig.key_name})"
        entry = by_id.get(sig.ref_id)
        if entry is None:
            problems.append(f"{what}: the entry is gone from the chain")
            continue
        if sig.provider != "oidc":
            problems.append(f"{what}: only a service key seals entries (provider oidc)")
            continue
        p = signature_problem(settings, sig, entry_statement(entry), what)
        if p:
            problems.append(p)
        else:
            sealed[entry.id] = sig.key_name
    return sealed, problems
