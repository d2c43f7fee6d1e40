"""Shadow challengers: a candidate attached beside an alias under ``<alias>-shadow``.

Attaching is an alias move (action ``shadow``, with its own deployment: rules + bundle) in
the releases repository; this module adds what an alias move cannot do: take the shadow
alias off again (``detach``), appended to the same history and audit chain.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from shared.ledger import mapping
from shared.ledger.models import Alias as AliasRow
from shared.ledger.models import AliasMove
from shared.ledger.records import AliasMoveRecord
from shared.ledger.releases import sealed
from shared.ledger.store import Ledger
from shared.ledger.trust_models import Seal
from shared.ledger.unit import Repository, utcnow
from shared.ledger.vocab import AliasAction, LedgerError, version_label

SHADOW_SUFFIX = "-shadow"


def shadow_alias(alias: str) -> str:
    """The alias a challenger of ``alias`` is attached under."""
    return f"{alias}{SHADOW_SUFFIX}"


class ShadowRecords(Repository):
    """Detaching shadow aliases in the ledger ``ledger``."""

    def __init__(self, ledger: Ledger) -> None:
        super().__init__(ledger.engine)
        self.on_commit = ledger.on_commit  # audit anchoring, as every repository of the ledger

    def detach(
        self, alias: str, actor: str, reason: str, seal: Seal | None = None
    ) -> AliasMoveRecord:
        """Remove the shadow of ``alias``; the history keeps which version it was. ``seal``:
        the move's signature, written in the same transaction."""
        name = shadow_alias(alias)
        with self.write() as uow:
            s: Session = uow.session
            current = s.get(AliasRow, name)
            if current is None:
                raise LedgerError(f"no shadow challenger is attached to {alias!r}")
            move = AliasMove(
                alias=name,
                model_id=current.model_id,
                previous_model_id=current.model_id,
                deployment_id=current.deployment_id,
                action=AliasAction.DETACH.value,
                actor=actor,
                reason=reason,
                at=utcnow(),
            )
            s.delete(current)
            s.add(move)
            s.flush()
            uow.audit(
                actor,
                f"alias.{AliasAction.DETACH.value}",
                name,
                {
                    "version": version_label(current.model_id),
                    "previous": version_label(current.model_id),
                    "deployment": current.deployment_id,
                    "reason": reason,
                },
            )
            return sealed(uow, mapping.alias_move(move), seal)
