"""Every Metaflow task is a process of its own that imports its flow file: a flow file
imports no frame, validation or model library at module level (each step imports what it
uses), and the records a join or end step reads back load none either
(bench/profile_tasks.py shows what each task imports)."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("pandas", "pyarrow", "pandera", "numpy", "xgboost", "torch", "sklearn", "alembic")
LOADED = f"import sys; print(sorted(m for m in {HEAVY!r} if m in sys.modules))"


def _printed(code: str) -> list[str]:
    """The lines a fresh process running ``code`` and then LOADED printed (it exited 0)."""
    done = subprocess.run(
        [sys.executable, "-c", f"{code}\n{LOADED}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "RENKEI_LEDGER_URL": ""},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()


def _loaded_after(code: str) -> str:
    return _printed(code)[-1]


@pytest.mark.parametrize("flow", ["ingest", "train", "score", "monitor"])
def test_a_flow_file_imports_no_heavy_library(flow: str) -> None:
    code = f"import runpy; runpy.run_path('flows/{flow}_flow.py')"
    assert _loaded_after(code) == "[]"


def test_what_the_score_join_reads_back_loads_no_heavy_library() -> None:
    """The score join reads each task's ScoredPartition and the landed input (LandedRaw);
    unpickling them (as Metaflow does) imports only their light modules."""
    from shared.data.ingest import LandedFile, LandedRaw
    from shared.operate.scoring import ScoredPartition

    f = LandedFile("a.csv", "/d/raw/a.csv", "0" * 64, 10, "csv", "/in/a.csv")
    records = (
        LandedRaw("/in/a.csv", "/d/raw/a.csv", "0" * 64, 10, "csv", (f,)),
        ScoredPartition(0, "/d/scores/part-00000.parquet", 3, {"model": 3}, "1" * 64, 0, 3),
    )
    blob = pickle.dumps(records)
    code = f"import pickle; print(pickle.loads({blob!r}))"
    assert _loaded_after(code) == "[]"


def test_the_ledger_opens_without_alembic(tmp_path: Path) -> None:
    """Opening an up-to-date ledger (every task that records something does) checks its
    schema revision without importing Alembic."""
    from shared.ledger import Ledger

    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    Ledger.open(url, create=True).close()
    code = f"from shared.ledger import Ledger; Ledger.open({url!r}).runs.all()"
    assert _loaded_after(code) == "[]"


def test_the_score_join_step_imports_no_heavy_library() -> None:
    """The score join calls shared.pipeline.score.record: importing it loads no frame,
    validation or model library (the plan and the scoring import those inside)."""
    assert _loaded_after("from shared.pipeline.score import record") == "[]"


def test_an_xgboost_model_loads_without_scikit_learn() -> None:
    """xgboost imports scikit-learn for wrappers Renkei does not use (~0.9 s per
    task that fits or loads a model): the family imports it without them, and scikit-learn
    still imports afterwards."""
    code = (
        "from shared.model.families.xgboost_model import xgboost_module\n"
        "xgb = xgboost_module(); assert xgb.Booster is not None\n"
        "import sys; assert 'sklearn' not in sys.modules\n"
        "import sklearn; print(sklearn.__name__)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0 and done.stdout.strip() == "sklearn", done.stderr


def _command_loads(project: Path, args: list[str]) -> list[str]:
    """What a `renkei --project PROJECT ARGS` process loaded of HEAVY (the command succeeded)."""
    argv = ["renkei", "--project", str(project), *args]
    code = (
        f"import sys\nfrom shared.cli import main\nsys.argv = {argv!r}\n"
        "sys.stderr = sys.stdout\n"  # a failing command's one-line error in the message
        "try:\n    main()\nexcept SystemExit as e:\n    print('exit', e.code or 0)\n"
        "else:\n    print('exit', 0)"
    )
    *said, status, loaded = _printed(code)
    assert status == "exit 0", f"renkei {' '.join(args)}: {said[-20:]}"
    return eval(loaded)  # noqa: S307 - the list LOADED printed


@pytest.mark.parametrize(
    "args",
    [["audit", "verify"], ["audit", "log"], ["keys", "init", "--member", "kenji"], ["models"]],
    ids=" ".join,
)
def test_a_command_that_reads_loads_no_frame_library(args: list[str], tmp_path: Path) -> None:
    """`renkei` is a process per command: loading the project's rules (their expressions
    checked with the guard's NumPy evaluation) and a report load neither pandas nor Pandera
    (about half a second of each command's start)."""
    from tests.conftest import write_project

    loaded = _command_loads(write_project(tmp_path).parent, args)
    assert "pandas" not in loaded and "pandera" not in loaded, f"renkei {' '.join(args)}: {loaded}"


def test_an_approval_loads_no_frame_library(tmp_path: Path) -> None:
    """A real approval of a trained candidate (its artifact files hashed into the signature,
    the shadow evidence looked up) loads neither pandas nor Pandera, and is recorded."""
    from tests.builders import build

    t = build(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}", runs=1)
    [candidate] = t.candidates
    args = ["approve", candidate, "--as", "kenji", "--comment", "fine"]
    loaded = _command_loads(t.project_path.parent, args)
    assert "pandas" not in loaded and "pandera" not in loaded, f"renkei approve: {loaded}"
    [approval] = t.ledger.releases.approvals(candidate)
    assert approval.actor == "kenji" and approval.decision == "approve", approval
