"""training.search: hyperparameter search per learned family (Optuna; issue 28 item 1)."""

from __future__ import annotations

from pydantic import Field, model_validator

from .base import _Strict


class FamilySearch(_Strict):
    """One family's study: ``trials`` in all (TPE sampler seeded with ``seed``, median
    pruner), at most ``timeout_minutes`` of searching per task."""

    trials: int = Field(12, gt=0, le=1000)
    timeout_minutes: float = Field(10.0, gt=0)
    seed: int = 0


class SearchSettings(_Strict):
    """Off unless a learned family has a section. ``storage``: where the studies live, never
    the ledger's database (both use Alembic's ``alembic_version``): ``auto`` is a SQLite file
    under the data root (``<data_root>/search/studies.db``, a local data root only), or a
    SQLAlchemy URL of a database of its own (PostgreSQL in production, reachable from the
    Batch tasks), or ``secretsmanager:NAME``: that URL read from an AWS Secrets Manager
    secret (production: no password in project.yaml; `renkei deploy aws` sets it from
    aws.yaml ``search.secret_name``); ``postgres_schema``: a PostgreSQL schema for the studies' tables in that database.
    ``trials_per_task``: the trials one train task runs (a foreach over trial groups).
    ``sample_rows``: rows held as parts (training.memory external): the trials fit on a
    seeded sample of at most this many train and validation rows (None: training.memory
    ``sample_rows``), the chosen settings refitted through external memory on every part."""

    storage: str = "auto"
    postgres_schema: str | None = Field(None, pattern=r"^[a-z_][a-z0-9_]*$")
    trials_per_task: int = Field(4, gt=0)
    sample_rows: int | None = Field(None, gt=0)
    xgboost: FamilySearch | None = None
    torch_mlp: FamilySearch | None = None

    @model_validator(mode="after")
    def _storage(self) -> SearchSettings:
        secret = self.storage.startswith("secretsmanager:")
        if secret and not self.storage.split(":", 1)[1].strip():
            raise ValueError("training.search.storage 'secretsmanager:': name the secret")
        if self.storage != "auto" and "://" not in self.storage and not secret:
            raise ValueError(
                f"training.search.storage {self.storage!r}: 'auto', a SQLAlchemy URL or "
                "secretsmanager:NAME (an AWS Secrets Manager secret holding that URL)"
            )
        return self

    def family(self, name: str) -> FamilySearch | None:
        """The family's search settings, or None: that family is fitted once, as configured."""
        return getattr(self, name, None) if name in ("xgboost", "torch_mlp") else None

    @property
    def on(self) -> bool:
        return self.xgboost is not None or self.torch_mlp is not None
