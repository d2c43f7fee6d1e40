"""training.search's settings (issue 28 item 1): off by default (hashes and bundles as
before), and a study storage of its own, never the ledger's database."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.config import ConfigError, ProjectConfig, load_project
from shared.training import TrainingError, generated_split, plan_search
from shared.training.study import storage_location
from tests.conftest import REPO, write_project

SEARCH = {"xgboost": {"trials": 2, "timeout_minutes": 1}}


def test_search_is_off_by_default_and_leaves_hashes_and_bundles_as_they_were() -> None:
    cfg = load_project(REPO / "config" / "project.yaml")
    assert not cfg.training.search.on
    # the hash recorded with every version before search existed (config/project.yaml)
    assert cfg.config_hash() == "6443acc879d751c8"
    assert "search" not in cfg.portable_dump()["training"]  # loads where search is unknown
    on = cfg.model_copy(
        update={"training": cfg.training.model_copy(update={"search": _settings(cfg)})}
    )
    assert on.config_hash() != cfg.config_hash()
    assert ProjectConfig.model_validate(on.portable_dump()).training.search.on  # round trip


def _settings(cfg: ProjectConfig):
    return type(cfg.training.search).model_validate({"xgboost": SEARCH["xgboost"]})


def test_a_study_storage_that_is_the_ledgers_database_is_refused(tmp_path: Path) -> None:
    project = write_project(tmp_path)
    ledger = load_project(project).storage.ledger_url
    cfg = load_project(write_project(tmp_path, training__search={**SEARCH, "storage": ledger}))
    split = generated_split(cfg, rows=2000, seed=1)
    with pytest.raises(TrainingError, match="the ledger's database"):
        plan_search(cfg, ["xgboost"], split, "TrainFlow/1")


def test_auto_storage_needs_a_local_data_root(tmp_path: Path) -> None:
    cfg = load_project(write_project(tmp_path, training__search=SEARCH))
    remote = cfg.model_copy(
        update={"storage": cfg.storage.model_copy(update={"data_root": "s3://bucket/renkei"})}
    )
    split = generated_split(cfg, rows=2000, seed=1)
    with pytest.raises(TrainingError, match="a database of their own"):
        plan_search(remote, ["xgboost"], split, "TrainFlow/1")


def test_a_storage_that_is_no_url_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="training.search.storage"):
        load_project(write_project(tmp_path, training__search={**SEARCH, "storage": "studies"}))


def test_without_search_the_train_tasks_are_the_families(tmp_path: Path) -> None:
    cfg = load_project(write_project(tmp_path))
    split = generated_split(cfg, rows=2000, seed=1)
    assert plan_search(cfg, ["xgboost", "torch_mlp"], split, "TrainFlow/1") == [
        "xgboost",
        "torch_mlp",
    ]
    assert not (tmp_path / "data" / "search").exists()  # no storage touched


def test_a_study_lives_in_its_own_postgresql_schema_beside_a_sqlite_ledger(
    tmp_path: Path, fresh_pg_url: str
) -> None:
    """Production's shape: the studies in a PostgreSQL database (schema ``studies``) every
    task reaches, the ledger elsewhere; the train pipeline records where the study lives."""
    from datetime import datetime

    import psycopg

    from shared.config import load_project_set
    from shared.ledger import Ledger
    from shared.pipeline.ingest import ingest
    from tests.builders import train_run
    from tests.conftest import FAST_TRAINING

    search = {**SEARCH, "storage": fresh_pg_url, "postgres_schema": "studies"}
    project = write_project(
        tmp_path,
        **FAST_TRAINING,
        training__families=["baseline", "xgboost"],
        training__search=search,
    )
    cfg, pset = load_project(project), load_project_set(project)
    ledger = Ledger.open(cfg.storage.ledger_url)
    done = ingest(
        ledger, cfg, "taro", "IngestFlow/t0", rows=2000, seed=3, now=datetime(2026, 11, 1)
    )
    train_run(ledger, cfg, pset.rules, done.outcome.dataset_version, "t0", "mina")
    [tuned] = [m for m in ledger.registry.models() if m.family == "xgboost"]
    s = tuned.resources["search"]
    assert s["storage"] == "postgresql" and s["n_trials"] == 2
    assert s["location"] == fresh_pg_url  # where it lives, as the lineage names it
    # ... never with a password
    assert storage_location("postgresql://renkei:s3cret@db:5432/studies") == (
        "postgresql://renkei:***@db:5432/studies"
    )
    base = fresh_pg_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(base) as c:
        where = dict(
            c.execute(
                "select table_name, table_schema from information_schema.tables "
                "where table_name in ('studies', 'trials', 'alembic_version')"
            ).fetchall()
        )
    assert where == {"studies": "studies", "trials": "studies", "alembic_version": "studies"}
