"""The ledger: a small facade over one repository per aggregate, sharing one engine.

SQLite by default, any SQLAlchemy URL (PostgreSQL via psycopg) otherwise. Every write is one
unit of work that also appends to the audit chain (see :mod:`shared.ledger.unit`).
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import Engine

from shared.ledger import engine as schema
from shared.ledger.unit import CommitHook, Repository
from shared.ledger.vocab import LedgerError

if TYPE_CHECKING:
    from shared.ledger.audit import AuditRepository
    from shared.ledger.datasets import DatasetRepository
    from shared.ledger.intervals import IntervalRepository
    from shared.ledger.monitoring import MonitoringRepository
    from shared.ledger.operations import OperationsRepository
    from shared.ledger.registry import RegistryRepository
    from shared.ledger.releases import ReleaseRepository
    from shared.ledger.runs import RunRepository
    from shared.ledger.trust import TrustRecords

R = TypeVar("R", bound=Repository)

# The repositories, in the order :attr:`Ledger.repositories` lists them.
REPOSITORIES = (
    "runs",
    "datasets",
    "registry",
    "releases",
    "operations",
    "monitoring",
    "intervals",
    "audit",
)


class Ledger:
    """Records lineage and who did what: ``.runs .datasets .registry .releases .operations
    .monitoring .intervals .audit .trust``, one per aggregate. Open with :meth:`open`.

    Each repository is made (and its module imported) on first use, so a process that
    reads only aliases (the scoring service) loads only those modules."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._on_commit: CommitHook | None = None

    def _made(self, repo: R) -> R:
        repo.on_commit = self._on_commit
        return repo

    @cached_property
    def runs(self) -> RunRepository:
        from shared.ledger.runs import RunRepository

        return self._made(RunRepository(self.engine))

    @cached_property
    def datasets(self) -> DatasetRepository:
        from shared.ledger.datasets import DatasetRepository

        return self._made(DatasetRepository(self.engine))

    @cached_property
    def registry(self) -> RegistryRepository:
        from shared.ledger.registry import RegistryRepository

        return self._made(RegistryRepository(self.engine, self.datasets, self.runs))

    @cached_property
    def releases(self) -> ReleaseRepository:
        from shared.ledger.releases import ReleaseRepository

        return self._made(ReleaseRepository(self.engine))

    @cached_property
    def operations(self) -> OperationsRepository:
        from shared.ledger.operations import OperationsRepository

        return self._made(OperationsRepository(self.engine, self.registry, self.releases))

    @cached_property
    def monitoring(self) -> MonitoringRepository:
        from shared.ledger.monitoring import MonitoringRepository

        return self._made(MonitoringRepository(self.engine))

    @cached_property
    def intervals(self) -> IntervalRepository:
        """Adaptive interval updates (shared.model.adaptive) per alias."""
        from shared.ledger.intervals import IntervalRepository

        return self._made(IntervalRepository(self.engine))

    @cached_property
    def audit(self) -> AuditRepository:
        from shared.ledger.audit import AuditRepository

        return self._made(AuditRepository(self.engine))

    @cached_property
    def trust(self) -> TrustRecords:
        """Signatures and API tokens (not a unit of work of its own: no audit hook)."""
        from shared.ledger.trust import TrustRecords

        return TrustRecords(self)

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
        return tuple(getattr(self, name) for name in REPOSITORIES)

    @property
    def on_commit(self) -> CommitHook | None:
        """Called after any write that appended audit entries (first id, last id, last hash):
        shared.trust.anchors anchors the chain outside the database with it."""
        return self._on_commit

    @on_commit.setter
    def on_commit(self, hook: CommitHook | None) -> None:
        self._on_commit = hook
        for name in REPOSITORIES:  # those made so far; the others get it when made
            if name in self.__dict__:
                self.__dict__[name].on_commit = hook

    @property
    def url(self) -> str:
        return schema.url_of(self.engine)

    def close(self) -> None:
        self.engine.dispose()
