"""Where the library finds the flow files and the app: the one module that knows the checkout's layout."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def flows_dir(repo: Path = REPO) -> Path:
    """The flows folder of a checkout."""
    return repo / "flows"


FLOWS_DIR = flows_dir()
APP_HOME = REPO / "app" / "Home.py"

FLOW_FILES = {
    "IngestFlow": "ingest_flow.py",
    "TrainFlow": "train_flow.py",
    "ScoreFlow": "score_flow.py",
    "MonitorFlow": "monitor_flow.py",
}


def flow_file(flow: str, flows_dir: Path = FLOWS_DIR) -> Path:
    """The file of a flow, by class name (``TrainFlow``)."""
    return flows_dir / FLOW_FILES[flow]
