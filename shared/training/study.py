"""A search's study (training.search, issue 28 item 1): where it lives, what one train task
of it runs (a trial group), and the choice of the best group per family with the study
summarised for the lineage.

The study lives in ``training.search.storage``: ``auto`` is a SQLite file under a local data
root, else a database of its own (PostgreSQL in production, reached by every Batch task, its
URL from a Secrets Manager secret with ``secretsmanager:NAME``);
never the ledger's database, since Optuna and the ledger both keep Alembic's
``alembic_version``. optuna is imported only when a search is configured.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared.config import ProjectConfig

from .candidate import Candidate, TrainingError

if TYPE_CHECKING:
    import optuna


@dataclass(frozen=True)
class TrialGroup:
    """What one train task of a search does: ``trials`` trials of ``family``'s ``study``."""

    family: str
    index: int
    trials: int
    study: str

    def __str__(self) -> str:
        return f"{self.family} trials group {self.index} ({self.trials} trials)"


# -- the storage ---------------------------------------------------------------------------
def storage_url(cfg: ProjectConfig) -> str:
    """The studies' SQLAlchemy URL (never the ledger's)."""
    from shared.config.settings import SecretError, ledger_url, study_storage

    try:
        url = study_storage(cfg)  # secretsmanager:NAME read here, through the settings
    except SecretError as e:
        raise TrainingError(str(e)) from None
    if url == "auto":
        root = cfg.storage.data_root
        if "://" in root:
            raise TrainingError(
                f"training.search.storage 'auto' keeps the studies in a SQLite file under a "
                f"local data root; with data_root {root} name a database of their own "
                f"(a PostgreSQL URL every task reaches)"
            )
        path = Path(root).resolve() / "search" / "studies.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{path}"
    try:
        ledger = ledger_url(cfg)
    except Exception:  # noqa: BLE001  (a secret out of reach here: not the same URL string)
        ledger = cfg.storage.ledger_url
    if _same_database(url, ledger):
        raise TrainingError(
            f"training.search.storage {_shown(cfg.training.search.storage)} names the ledger's "
            "database: the studies need one of their own (both keep Alembic's alembic_version)"
        )
    return url


def _shown(setting: str) -> str:
    """The setting as an error names it: a URL without its password."""
    return storage_location(setting) if "://" in setting else setting


def _same_database(a: str, b: str) -> bool:
    from sqlalchemy.engine import make_url

    try:
        ua, ub = make_url(a), make_url(b)
    except Exception:  # noqa: BLE001  (not a SQLAlchemy URL: cannot be the same database)
        return False
    if ua.get_backend_name() == "sqlite" and ub.get_backend_name() == "sqlite":
        return Path(ua.database or "").resolve() == Path(ub.database or "").resolve()
    return (ua.host, ua.port, ua.database) == (ub.host, ub.port, ub.database)


def storage_kind(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).get_backend_name()


def storage_location(url: str) -> str:
    """The URL as lineage records it: no password."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def open_storage(cfg: ProjectConfig, *, create: bool = False) -> optuna.storages.RDBStorage:
    """The studies' storage; ``create``: make the PostgreSQL schema first (the start step)."""
    import optuna

    url = storage_url(cfg)
    schema = cfg.training.search.postgres_schema
    kwargs: dict[str, Any] = {}
    if storage_kind(url) == "sqlite":
        kwargs["connect_args"] = {"timeout": 60}  # trial tasks write side by side
    elif schema:
        kwargs["connect_args"] = {"options": f"-csearch_path={schema}"}
        if create:
            import sqlalchemy as sa

            engine = sa.create_engine(url)
            with engine.begin() as c:
                c.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            engine.dispose()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)


def study_name(cfg: ProjectConfig, run_key: str, family: str) -> str:
    """``<project>/<flow>/<run>/<family>``: one study per family per training run."""
    return f"{cfg.name}/{run_key}/{family}"


# -- choosing (the compare step) -----------------------------------------------------------
def choose(
    fitted: list[tuple[Candidate, str | None]], cfg: ProjectConfig
) -> tuple[list[Candidate], dict[str, str]]:
    """One candidate per family, and the task that fitted it: a searched family's best group
    (by its trial's validation value, never the holdout), its study summarised for the
    lineage; a family fitted once as it is."""
    groups: dict[str, list[tuple[Candidate, str | None]]] = {}
    chosen: dict[str, tuple[Candidate, str | None]] = {}
    for c, task in fitted:
        if getattr(c, "search", None):
            groups.setdefault(c.family, []).append((c, task))
        else:
            chosen[c.family] = (c, task)
    for family, found in groups.items():
        sign = -1.0 if cfg.higher_is_better else 1.0
        valued = [g for g in found if g[0].search["value"] is not None] or found
        best = min(valued, key=lambda g: sign * (g[0].search["value"] or 0.0))
        best[0].search = summarize(cfg, best[0], [g[0] for g in found])
        chosen[family] = best
    cands = [c for c, _ in chosen.values()]
    return cands, {c.family: t for c, t in chosen.values() if t is not None}


def summarize(cfg: ProjectConfig, chosen: Candidate, groups: list[Candidate]) -> dict[str, Any]:
    """The study as the lineage records it: where it lives, every trial (state, parameters,
    validation value), the one chosen and refitted, the tasks' seconds."""
    import optuna

    url = storage_url(cfg)
    study = optuna.load_study(study_name=chosen.search["study"], storage=open_storage(cfg))
    trials = study.get_trials(deepcopy=False)
    states = [t.state.name.lower() for t in trials]
    return {
        "study": chosen.search["study"],
        "storage": storage_kind(url),
        "location": storage_location(url),
        "metric": cfg.training.key_metric,
        "on": "validation",
        "direction": study.direction.name.lower(),
        "n_trials": len(trials),
        "n_complete": states.count("complete"),
        "n_pruned": states.count("pruned"),
        "tasks": len(groups),
        "task_seconds": round(sum(g.search["seconds"] for g in groups), 3),
        "best_trial": chosen.search["trial"],
        "best_params": chosen.search["params"],
        "best_value": chosen.search["value"],
        # rows held as parts: the trials' seeded sample (the refit used every part)
        **({"sample": chosen.search["sample"]} if chosen.search.get("sample") else {}),
        "trials": [
            {"number": t.number, "state": s, "value": t.value, "params": dict(t.params)}
            for t, s in zip(trials, states, strict=True)
        ],
    }
