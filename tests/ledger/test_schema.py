"""Schema revisions: only `renkei db upgrade` migrates; opening never does, and an outdated
ledger is refused in one line, through the CLI and through a flow run."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, event

from shared.config import load_project
from shared.ledger import Ledger, LedgerError, head_revision
from shared.ledger.engine import alembic_config, make_engine
from tests.conftest import REPO, write_project
from tests.flows.helpers import INGEST, cli_run

OLD = "0004"


def _downgrade(url: str, revision: str) -> None:
    """Take a ledger back to an older schema, as one left by an older Renkei."""
    engine = make_engine(url, create=False)
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)
    engine.dispose()


def _refusal(url: str) -> str:
    return (
        f"{url}: ledger schema is at revision {OLD}, this Renkei needs {head_revision()}: "
        "run `renkei db upgrade`"
    )


def _renkei(project: Path, *args: str) -> subprocess.CompletedProcess:
    """The `renkei` command users run (the console script next to this Python)."""
    return subprocess.run(
        [str(Path(sys.executable).parent / "renkei"), "--project", str(project), *args],
        capture_output=True,
        text=True,
        cwd=REPO,
    )


@pytest.fixture
def statements() -> Iterator[list[str]]:
    """Every SQL statement any engine sends while the test runs."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, sql: str, *_: Any) -> None:
        seen.append(sql)

    event.listen(Engine, "before_cursor_execute", record)
    yield seen
    event.remove(Engine, "before_cursor_execute", record)


def test_opening_an_up_to_date_ledger_runs_no_migration(
    ledger_url: str, statements: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    upgrades: list[str] = []
    real_upgrade = command.upgrade

    def counting_upgrade(cfg: Any, revision: str, **kw: Any) -> None:
        upgrades.append(revision)
        real_upgrade(cfg, revision, **kw)

    monkeypatch.setattr(command, "upgrade", counting_upgrade)
    statements.clear()
    ledger = Ledger.open(ledger_url)
    assert ledger.registry.models() == []
    ledger.close()
    assert upgrades == []
    sql = [s.strip().upper() for s in statements]
    assert not [s for s in sql if s.split()[0] in ("CREATE", "ALTER", "DROP", "INSERT", "UPDATE")]
    assert not [s for s in sql if "ADVISORY" in s]  # no migration lock taken either
    assert [s for s in sql if "ALEMBIC_VERSION" in s and s.startswith("SELECT")]
    # `create=True` (what `renkei db upgrade` runs) is the path that migrates
    Ledger.open(ledger_url, create=True).close()
    assert upgrades == ["head"]


def test_an_outdated_ledger_is_refused_in_one_line_by_the_cli(tmp_path: Path) -> None:
    project = write_project(tmp_path)
    url = load_project(project).storage.ledger_url
    _downgrade(url, OLD)
    with pytest.raises(LedgerError) as e:
        Ledger.open(url)
    assert str(e.value) == _refusal(url)

    p = _renkei(project, "models")
    assert p.returncode != 0, p.stdout
    assert p.stderr.splitlines() == [f"Error: {_refusal(url)}"], p.stderr
    assert "Traceback" not in p.stdout + p.stderr

    # `renkei db upgrade` brings it to the newest revision; then it opens
    up = _renkei(project, "db", "upgrade")
    assert up.returncode == 0, up.stderr
    assert _renkei(project, "models").returncode == 0
    Ledger.open(url).close()


def test_a_flow_refuses_an_outdated_ledger_in_one_line(tmp_path: Path) -> None:
    project = write_project(tmp_path)
    url = load_project(project).storage.ledger_url
    _downgrade(url, OLD)
    p = cli_run(INGEST, "--config", "project", str(project), "run")
    out = p.stdout + p.stderr
    assert p.returncode != 0, out
    assert [line for line in out.splitlines() if _refusal(url) in line], out
    assert out.count("ledger schema is at revision") == 1, out
    assert "Traceback" not in out and "Internal error" not in out, out
    # nothing was migrated behind the user's back
    with pytest.raises(LedgerError, match=f"revision {OLD},"):
        Ledger.open(url)


def test_the_revisions_read_without_alembic_are_alembics() -> None:
    """Opening a ledger reads the head revision from the migration files without importing
    Alembic (every flow task opens one); Alembic's own reading must agree."""
    from alembic.script import ScriptDirectory

    from shared.ledger.engine import known_revisions

    script = ScriptDirectory.from_config(alembic_config())
    assert head_revision() == script.get_current_head()
    assert known_revisions() == {r.revision for r in script.walk_revisions()}
    code = (
        "import shared.ledger, sys; shared.ledger.head_revision(); print('alembic' in sys.modules)"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert p.stdout.strip() == "False", p.stdout + p.stderr
