"""One dev-mode switch (issue 25, item 7): roles.yaml identity.dev_mode decides for the CLI and
the app alike. Without it and without a sign-in the app is read-only; a project.yaml that
still sets the old app.dev_mode is refused in one line naming the move."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from streamlit.testing.v1 import AppTest

from shared.cli import cli
from tests.app.conftest import APP
from tests.builders import build
from tests.conftest import write_project

pytestmark = pytest.mark.slow


def _dev_mode(project: Path, on: bool) -> None:
    path = project.parent / "roles.yaml"
    roles = yaml.safe_load(path.read_text())
    roles["identity"]["dev_mode"] = on
    path.write_text(yaml.safe_dump(roles, sort_keys=False))


def _open(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    if page != "overview":
        at.switch_page(f"views/{page}.py")
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_without_dev_mode_or_a_sign_in_the_app_is_read_only(app_env, tmp_path: Path) -> None:
    t = build(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}", runs=1)
    _dev_mode(t.project_path, False)
    app_env(t.project_path)
    at = _open("models")
    assert [s.key for s in at.sidebar.selectbox] == [], "someone may pick who they are"
    assert any("Read-only: no sign-in is configured" in i.value for i in at.sidebar.info)
    labels = [b.label for b in at.button]
    assert "Approve" not in labels and "Reject" not in labels, labels
    _dev_mode(t.project_path, True)  # the demo: the same page offers who you act as
    app_env(t.project_path)
    at = _open("models")
    assert [s.key for s in at.sidebar.selectbox] == ["acting_as"]


def test_an_old_project_file_with_app_dev_mode_is_refused_naming_the_move(
    app_env, tmp_path: Path
) -> None:
    """As the production folder copied it: roles' dev mode off, the app's left on. The app
    offered "Acting as (dev mode)" with every member to whoever opened it."""
    project = write_project(tmp_path, app__dev_mode=True)
    _dev_mode(project, False)
    app_env(project)
    at = _open("overview")
    assert [s.key for s in at.sidebar.selectbox] == [], "the app still offers acting as anyone"
    [error] = [e.value for e in at.error]
    assert "app.dev_mode moved to roles.yaml identity.dev_mode" in error, error
    out = CliRunner().invoke(cli, ["--project", str(project), "models"])
    assert out.exit_code == 1, out.output
    [line] = out.output.strip().splitlines()
    assert line.startswith("Error: ") and "app.dev_mode moved to roles.yaml" in line, line
