"""The ledger: a small facade over one repository per aggregate, sharing one engine.

SQLite by default, any SQLAlchemy URL (PostgreSQL via psycopg) otherwise. Every write is one
unit of work that also appends to the audit chain (see :mod:`shared.ledger.unit`).
"""

from __future__ import annotations

from sqlalchemy import Engine

from shared.ledger import engine as schema
from shared.ledger.audit import AuditRepository
from shared.ledger.datasets import DatasetRepository
from shared.ledger.monitoring import MonitoringRepository
from shared.ledger.operations import OperationsRepository
from shared.ledger.registry import RegistryRepository
from shared.ledger.releases import ReleaseRepository
from shared.ledger.runs import RunRepository
from shared.ledger.unit import CommitHook, Repository
from shared.ledger.vocab import LedgerError


class Ledger:
    """Records lineage and who did what: ``.runs .datasets .registry .releases .operations
    .monitoring .audit``. Open with :meth:`open`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.runs = RunRepository(engine)
        self.datasets = DatasetRepository(engine)
        self.registry = RegistryRepository(engine, self.datasets, self.runs)
        self.releases = ReleaseRepository(engine)
        self.operations = OperationsRepository(engine, self.registry, self.releases)
        self.monitoring = MonitoringRepository(engine)
        self.audit = AuditRepository(engine)

    @classmethod
    def open(cls, url: str, create: bool = False) -> Ledger:
        """Open an existing ledger whose schema is the newest revision; an outdated one is
        refused in one line (never migrated here: that is `renkei db upgrade`), a missing
        SQLite file is refused, never created by accident. ``create=True`` (`renkei db
        upgrade`, the demo, test fixtures) creates the ledger or brings it to the newest
        revision."""
        try:
            engine = schema.make_engine(url, create)
        except LedgerError:
            raise
        except Exception as e:  # bad URL, missing driver
            raise LedgerError(f"cannot open ledger {url!r}: {e}") from None
        try:
            if create:
                schema.upgrade(engine)
            else:
                schema.check_revision(engine)
        except LedgerError:
            engine.dispose()
            raise
        return cls(engine)

    @property
    def repositories(self) -> tuple[Repository, ...]:
        return (
            self.runs,
            self.datasets,
            self.registry,
            self.releases,
            self.operations,
            self.monitoring,
            self.audit,
        )

    @property
    def on_commit(self) -> CommitHook | None:
        """Called after any write that appended audit entries (first id, last id, last hash):
        shared.trust.anchors anchors the chain outside the database with it."""
        return self.audit.on_commit

    @on_commit.setter
    def on_commit(self, hook: CommitHook | None) -> None:
        for repo in self.repositories:
            repo.on_commit = hook

    @property
    def url(self) -> str:
        return schema.url_of(self.engine)

    def close(self) -> None:
        self.engine.dispose()
