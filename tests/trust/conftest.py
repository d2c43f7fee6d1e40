"""Trust tests: projects out of dev mode, keys per member, the CLI users run."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from shared.cli import cli
from tests.aws.conftest import moto_server  # noqa: F401 (a fixture used here)
from tests.builders import Trained, build
from tests.conftest import REPO

RENKEI = str(Path(sys.executable).with_name("renkei"))  # the console entry users run


def set_identity(t: Trained, **identity: Any) -> None:
    """Rewrite the project folder's roles.yaml identity section (the trust root)."""
    path = t.project_path.parent / "roles.yaml"
    roles = yaml.safe_load(path.read_text())
    roles["identity"] = {**roles.get("identity", {}), **identity}
    path.write_text(yaml.safe_dump(roles, sort_keys=False))


RELEASE_SECRET = "renkei/release-key"


def pin_dev_release_key(t: Trained) -> str:
    """Pin in roles.yaml the release key the builder's dev-mode promotions signed with (the
    key folder under the data root), as a team leaving dev mode does: loads out of dev mode
    trust only a pinned key."""
    from shared.guard.bundle_sign import public_text
    from shared.trust.release_key import FileReleaseKey

    public = public_text(FileReleaseKey(Path(t.cfg.storage.data_root) / "keys").create()[0])
    set_identity(t, release_key={"public": public})
    return public


def release_key_in_secret(t: Trained, env: dict[str, str | None]) -> str:
    """`renkei keys init --release` puts the release key in its Secrets Manager secret (moto);
    roles.yaml pins its public half: what production runs with."""
    set_identity(t, release_key={"secret": RELEASE_SECRET})
    out = renkei(t, "keys", "init", "--release", env=env)  # type: ignore[arg-type]
    assert out.exit_code == 0 and "release key: the Secrets Manager secret" in out.output, (
        out.output
    )
    public = out.output.strip().splitlines()[-1]
    set_identity(t, release_key={"secret": RELEASE_SECRET, "public": public})
    return public


def renkei(t: Trained, *args: str, env: dict[str, str] | None = None) -> Result:
    """`renkei --project <t's folder> ARGS` as users run it (one-line errors, exit codes)."""
    return CliRunner().invoke(cli, ["--project", str(t.project_path), *args], env=env)


def renkei_process(
    t: Trained, *args: str, env: dict[str, str] | None = None, project: Path | None = None
) -> subprocess.CompletedProcess:
    """`renkei --project <folder> ARGS` as a real process (a crash kills it, not the test)."""
    return subprocess.run(
        [RENKEI, "--project", str(project or t.project_path), *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "RENKEI_LEDGER_URL": "", **(env or {})},
        timeout=300,
    )


def one_line_error(out: Result) -> str:
    assert out.exit_code == 1, out.output
    text = out.output.strip()
    assert text.startswith("Error: ") and "\n" not in text, text
    return text


def sql(t: Trained, statement: str, *params: Any) -> None:
    """Raw SQL on the SQLite ledger, as an attacker with shell access would."""
    db = t.ledger.engine.url.database
    with sqlite3.connect(db) as con:
        con.execute(statement, params)


@pytest.fixture
def trained(tmp_path: Path) -> Trained:
    return build(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}", runs=1)


@pytest.fixture
def trained2(tmp_path: Path) -> Trained:
    return build(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}", runs=2)
