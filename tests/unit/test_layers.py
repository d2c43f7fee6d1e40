"""shared/ is a one-way stack (DESIGN.md, "Layers"): the import-linter contract in
pyproject.toml holds, fails on an upward import, no two top-level units import each other
(imports inside functions counted), and importing the scoring service stays light."""

from __future__ import annotations

import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import grimp

REPO = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
# importing the service loaded 69 of shared's modules before; 36: the project config's
# training.search section (shared.config.search, a pydantic model) since issue 28
SERVICE_MODULE_LIMIT = 36


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports run in ``root``, with ``root``'s shared/ first on the path."""
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_layers_contract_holds() -> None:
    done = _lint_imports(REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 kept, 0 broken" in done.stdout


def test_the_contract_fails_on_an_upward_import(tmp_path: Path) -> None:
    """An import from the config layer into the service (inside a function: still a
    dependency) breaks the contract, in a copy of the repository."""
    shutil.copytree(
        REPO / "shared", tmp_path / "shared", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    base = tmp_path / "shared" / "config" / "base.py"
    base.write_text(
        base.read_text()
        + "\n\ndef _upward() -> None:\n    from shared.operate.service import create_app  # noqa: F401\n"
    )
    done = _lint_imports(tmp_path)
    assert done.returncode != 0, done.stdout
    assert "BROKEN" in done.stdout
    assert "shared.config.base -> shared.operate.service" in done.stdout


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _unit_graph() -> dict[str, set[str]]:
    graph = grimp.build_graph("shared", cache_dir=None)  # imports in functions included
    edges: dict[str, set[str]] = {}
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            a, b = _unit(module), _unit(imported)
            edges.setdefault(a, set())
            if a != b:
                edges[a].add(b)
    return edges


def _cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph (its units in order), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(u: str) -> list[str] | None:
        state[u] = 1
        path.append(u)
        for v in sorted(edges.get(u, ())):
            if state.get(v) == 1:
                return path[path.index(v) :] + [v]
            if v not in state and (found := visit(v)):
                return found
        path.pop()
        state[u] = 2
        return None

    for u in sorted(edges):
        if u not in state and (found := visit(u)):
            return found
    return None


def test_no_cycle_between_top_level_units() -> None:
    edges = _unit_graph()
    assert {"config", "data", "model", "ledger", "guard", "cli"} <= set(edges)
    cycle = _cycle(edges)
    assert cycle is None, "import cycle between shared's units: " + " -> ".join(cycle or [])


def test_the_cycle_check_finds_a_cycle() -> None:
    """The check above can fail: a graph with a cycle is reported with its units."""
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def _modules_loaded(statement: str) -> list[str]:
    code = (
        f"import sys\n{statement}\n"
        "print(' '.join(sorted(m for m in sys.modules if m == 'shared' or m.startswith('shared.'))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_importing_the_service_loads_few_of_shared_modules() -> None:
    """The service imports the guard, the model families and the training code only when
    it loads a deployment, and the ledger's repositories when first used."""
    loaded = _modules_loaded("import shared.operate.service")
    assert "shared.operate.service" in loaded
    assert len(loaded) <= SERVICE_MODULE_LIMIT, f"{len(loaded)} modules: {loaded}"
    assert not [m for m in loaded if m.startswith(("shared.training", "shared.guard"))]


def test_artifacts_pickled_before_the_model_layer_still_load() -> None:
    """Train runs store Candidates whose FitReport was pickled as
    shared.training.families.base.FitReport (before shared/model): they still unpickle."""
    from shared.model.families import FitReport
    from shared.training import Candidate

    c = Candidate("xgboost", {"auc": 0.9}, {}, FitReport("xgboost", "cpu", 1.5, 10), {})
    old = pickle.dumps(c, protocol=0).replace(
        b"shared.model.families.base", b"shared.training.families.base"
    )
    assert b"shared.training.families.base" in old
    loaded = pickle.loads(old)
    assert loaded.fit == c.fit and isinstance(loaded.fit, FitReport)


def test_ledger_records_pickled_under_their_old_module_still_load() -> None:
    """Flow artifacts (an ingest's IngestRecord, a scoring run's DeploymentRecord, ...) were
    pickled as shared.ledger.records.X before each record moved into its aggregate's module:
    every one of them still unpickles, as the same class."""
    from datetime import UTC, datetime

    import shared.ledger as ledger
    from shared.ledger import RECORD_MODULES

    names = sorted(RECORD_MODULES)
    assert len(names) == 23
    for name in names:
        cls = getattr(ledger, name)
        old = pickle.dumps(cls, protocol=0).replace(
            cls.__module__.encode(), b"shared.ledger.records"
        )
        assert b"shared.ledger.records" in old, name
        assert pickle.loads(old) is cls, name
    d = ledger.DeploymentRecord(
        1, "v1", "production", "r" * 16, "rules-1", None, "s3://b/x", "sora", datetime.now(UTC)
    )
    old = pickle.dumps(d, protocol=0).replace(b"shared.ledger.releases", b"shared.ledger.records")
    assert b"shared.ledger.records" in old
    assert pickle.loads(old) == d
