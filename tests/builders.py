"""Build a ledger with real datasets and trained, registered models, without running flows.

Uses the same library calls the flows make (ingest, train, gate, register), on small data.
Each state is trained once per test process and copied for each test (tests/copies.py).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import yaml

from shared.config import (
    ProjectConfig,
    RolesConfig,
    RulesConfig,
    load_project,
    load_project_set,
)
from shared.config.identity import IdentitySettings
from shared.data import storage
from shared.data.provenance import CodeVersion
from shared.guard.bundle_sign import ReleaseKeys
from shared.ledger import Ledger
from shared.pipeline.ingest import ingest
from shared.pipeline.train import train
from shared.trust.release_key import release_keys
from tests.conftest import FAST_TRAINING, write_project
from tests.copies import copy_of, template_key


@dataclass
class Trained:
    project_path: Path
    cfg: ProjectConfig
    roles: RolesConfig
    rules: RulesConfig
    ledger: Ledger
    candidates: list[str]  # one candidate version per training run, oldest first

    @property
    def keys(self) -> ReleaseKeys:
        """The release keys every load verifies bundles with (roles.yaml, as it is now)."""
        return release_keys(self.roles.identity, self.cfg.storage.data_root)


def build(
    tmp: Path,
    url: str,
    runs: int = 2,
    rows: int = 3000,
    trainer: str = "mina",
    release_first: bool = False,
) -> Trained:
    """A project folder at ``tmp`` with its ledger at ``url``: ``runs`` ingests of ``rows``
    generated rows, each trained (baseline and xgboost) and registered by ``trainer``;
    ``release_first``: the first run's candidate goes to production before the next runs,
    whose beats_champion gate then scores it on their holdout (as the train flow does). The
    test's own copy of a state built once per process with the same parameters."""
    return cached(
        tmp,
        url,
        ("build", runs, rows, trainer, release_first),
        lambda folder, u: build_here(folder, u, runs, rows, trainer, release_first),
    )


def cached(tmp: Path, url: str, key: tuple, make: Callable[[Path, str], Trained]) -> Trained:
    """``make(tmp, url)``'s state (``key`` names it): built once per test process in a
    folder of its own, then copied to ``tmp`` and ``url`` (tests/copies.py) and opened."""
    where = template_key(tmp, url)
    if where is None:
        return make(tmp, url)
    built = copy_of(
        (*where, *key), tmp, url, make, lambda project: load_project(project).config_hash()
    )
    project_path = tmp / "project.yaml"
    pset = load_project_set(project_path)
    t = Trained(
        project_path,
        load_project(project_path),
        pset.roles,
        pset.rules,
        Ledger.open(url),
        list(built.candidates),
    )
    for name, value in vars(built).items():  # what ``make`` added (e.g. request ids)
        if name not in vars(t):
            setattr(t, name, copy.deepcopy(value))
    return t


def build_here(
    tmp: Path, url: str, runs: int, rows: int, trainer: str, release_first: bool = False
) -> Trained:
    """Train and register in ``tmp`` itself (what :func:`build` copies)."""
    overrides = {**FAST_TRAINING, "training__families": ["baseline", "xgboost"]}
    project_path = write_project(tmp, **overrides)
    data = yaml.safe_load(project_path.read_text())
    data["storage"]["ledger_url"] = url
    project_path.write_text(yaml.safe_dump(data, sort_keys=False))  # as declared
    cfg = load_project(project_path)
    pset = load_project_set(project_path)  # the project folder's rules and roles
    rules, roles = pset.rules, pset.roles
    ledger = Ledger.open(url, create=True)
    root = cfg.storage.data_root
    candidates = []
    for i in range(runs):  # the pipeline's ingest and train, as the flows run them
        ingested = ingest(
            ledger,
            cfg,
            "taro",
            f"IngestFlow/t{i}",
            rows=rows,
            seed=10 + i,
            bad_fraction=0.01,
            now=datetime(2026, 11, 1),
        )
        dataset = ingested.outcome.dataset_version
        keys = release_keys(roles.identity, root)
        candidates += train_run(ledger, cfg, rules, dataset, f"t{i}", trainer, keys)
        if release_first and i == 0:
            release(ledger, roles, cfg, rules, candidates[0], "first")
    assert storage.exists(root)
    return Trained(project_path, cfg, roles, rules, ledger, candidates)


def train_run(
    ledger: Ledger,
    cfg: ProjectConfig,
    rules: RulesConfig,
    dataset_version: str,
    run: str,
    trainer: str,
    keys: ReleaseKeys | None = None,
) -> list[str]:
    """One train run as the train flow records it (run started, the pipeline's train,
    run finished): the versions it registered as candidates. ``keys``: what production's
    bundle is verified with (default: the dev-mode key folder under the data root)."""
    if keys is None:
        keys = release_keys(IdentitySettings(dev_mode=True), cfg.storage.data_root)
    ledger.runs.start("TrainFlow", run, trainer)
    key = f"TrainFlow/{run}"
    code = CodeVersion("0" * 40, False)
    done = train(ledger, cfg, rules, dataset_version, key, trainer, code, keys=keys)
    ledger.runs.finish(key, "succeeded")
    return [m.version for m in done.versions if m.status == "candidate"]


def release(
    ledger: Ledger,
    roles: RolesConfig,
    cfg: ProjectConfig,
    rules: RulesConfig,
    version: str,
    reason: str = "test",
) -> None:
    """Approve ``version`` by every required role (kenji, yui) and promote it to production
    (sora), as the release rules demand."""
    from shared.release import promote, review

    review(ledger, roles, version, "kenji", "ok", "approve")
    review(ledger, roles, version, "yui", "ok", "approve")
    promote(ledger, roles, cfg, rules, version, "production", "sora", reason, "abc")
