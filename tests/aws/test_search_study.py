"""A search's studies in production (issue 28): their URL from an AWS Secrets Manager secret
(a real moto server holds it), their own PostgreSQL database (a real server), the Batch job
role allowed to read that secret, and a deployed search whose studies would sit in SQLite on
one Batch task's disk refused."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import boto3
import psycopg
import pytest
import yaml
from click.testing import CliRunner

from shared.cli import cli
from shared.ledger import Ledger
from tests.aws.test_deploy import aws_world
from tests.conftest import write_project
from tests.flows.helpers import INGEST, TRAIN, run_flow
from tests.flows.test_search_flow import SEARCH

pytestmark = pytest.mark.slow

PASSWORD = "s3cret-study-pw"  # trust auth: the server ignores it; nothing may record it


def _database(server_url: str, name: str) -> str:
    """A new database on the test server, as a URL with a password in it."""
    base = server_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(base, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    host = server_url.rsplit("@", 1)[1].rsplit("/", 1)[0]
    return f"postgresql+psycopg://postgres:{PASSWORD}@{host}/{name}"


def _tables(url: str) -> set[tuple[str, str]]:
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain) as c:
        rows = c.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema not in ('pg_catalog', 'information_schema')"
        ).fetchall()
    return {(s, t) for s, t in rows}


def _failure(stdout: str, stderr: str) -> str:
    return next(
        (line for line in (stderr + stdout).splitlines() if "training.search.storage" in line),
        stderr[-2000:],
    )


def test_a_search_reads_its_study_url_from_a_secret_and_keeps_it_in_its_own_database(
    moto_server: str, postgres_url: str, fresh_pg_url: str, tmp_path: Path
) -> None:
    ledger_url = fresh_pg_url
    study_url = _database(postgres_url, f"studies_{os.getpid()}_{time.time_ns()}")
    sm = boto3.client("secretsmanager")
    sm.create_secret(Name="renkei/study-url", SecretString=study_url)
    search = {**SEARCH["training__search"], "storage": "secretsmanager:renkei/study-url"}
    search["postgres_schema"] = "optuna_studies"
    overrides = {**SEARCH, "training__search": search, "storage__ledger_url": ledger_url}
    project = write_project(tmp_path, **overrides)
    _, status, _, _ = run_flow(INGEST, project, rows=3000)
    assert status == "successful"
    run, status, stdout, stderr = run_flow(TRAIN, project)
    assert status == "successful", stdout + stderr[-3000:]
    ledger = Ledger.open(ledger_url)
    [tuned] = [m for m in ledger.registry.models() if m.family == "xgboost"]
    ledger.close()
    s = tuned.resources["search"]
    # lineage names the study's database, without the secret's password
    assert s["storage"] == "postgresql" and s["n_trials"] == 3
    assert s["location"] == study_url.replace(PASSWORD, "***"), s["location"]
    assert PASSWORD not in json.dumps(tuned.resources)
    # the study lives in its own database, in its schema; the ledger's database has none
    studies = _tables(study_url)
    assert ("optuna_studies", "studies") in studies and ("optuna_studies", "trials") in studies
    assert ("optuna_studies", "alembic_version") in studies
    ledger_tables = {t for _, t in _tables(ledger_url)}
    assert "studies" not in ledger_tables and "trials" not in ledger_tables
    import optuna

    study = optuna.load_study(
        study_name=s["study"],
        storage=optuna.storages.RDBStorage(
            study_url, engine_kwargs={"connect_args": {"options": "-csearch_path=optuna_studies"}}
        ),
    )
    assert len(study.trials) == 3 and study.best_params == s["best_params"]

    # a secret that is missing: the run stops at its start, in one line naming the setting
    search["storage"] = "secretsmanager:renkei/no-such-secret"
    write_project(tmp_path, **{**overrides, "training__search": search})
    _, status, stdout, stderr = run_flow(TRAIN, project)
    assert status == "failed"
    line = _failure(stdout, stderr)
    assert "training.search.storage secretsmanager:renkei/no-such-secret: cannot read that " in (
        line
    ), line
    assert "ResourceNotFoundException" in line and "Traceback" not in stderr

    # a secret holding the ledger's own URL: refused, the studies need a database of their own
    sm.create_secret(Name="renkei/ledger-as-study", SecretString=ledger_url)
    search["storage"] = "secretsmanager:renkei/ledger-as-study"
    write_project(tmp_path, **{**overrides, "training__search": search})
    _, status, stdout, stderr = run_flow(TRAIN, project)
    assert status == "failed"
    line = _failure(stdout, stderr)
    assert (
        "training.search.storage secretsmanager:renkei/ledger-as-study names the ledger's "
        "database" in line
    ), line
    assert "studies" not in {t for _, t in _tables(ledger_url)}


def _deploy(project: Path, aws_path: Path, tmp: Path, *args: str):
    return CliRunner().invoke(
        cli,
        [
            "--config",
            str(project),
            "deploy",
            "aws",
            "--aws-config",
            str(aws_path),
            "--settings-out",
            str(tmp / "production"),
            *args,
        ],
    )


def _study_grants(policies: dict, role: str) -> list[object]:
    return [
        st["Resource"]
        for st in policies[role]["policy"]["Statement"]
        if st.get("Sid") == "StudySecret"
    ]


def test_the_deploy_lets_the_batch_tasks_read_the_study_secret(
    moto_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("METAFLOW_S3_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("METAFLOW_USER", "sora")
    aws_path = aws_world(moto_server, tmp_path)
    assert yaml.safe_load(aws_path.read_text())["search"] == {"secret_name": "renkei/study-url"}
    # without a search no role reads the studies' secret
    project = write_project(tmp_path)
    out = _deploy(project, aws_path, tmp_path, "--print-iam")
    assert out.exit_code == 0, out.output
    assert _study_grants(json.loads(out.output), "batch_job_role") == []
    # with one, the Batch job role alone may read it (the operator never opens a study)
    project = write_project(tmp_path, **SEARCH)
    out = _deploy(project, aws_path, tmp_path, "--print-iam")
    assert out.exit_code == 0, out.output
    policies = json.loads(out.output)
    account = policies["batch_job_role"]["role"].split(":")[4]
    assert _study_grants(policies, "batch_job_role") == [
        f"arn:aws:secretsmanager:us-east-1:{account}:secret:renkei/study-url-??????"
    ]
    assert _study_grants(policies, "operator") == []
    iam = boto3.client("iam")  # a valid policy document
    iam.create_policy(
        PolicyName="renkei-job", PolicyDocument=json.dumps(policies["batch_job_role"]["policy"])
    )
    # the dry run says where production's studies live and writes it into the settings the
    # deployed flows freeze; the trial tasks (the train step's foreach) ask for a GPU
    out_dir = tmp_path / "sm"
    out = _deploy(
        project, aws_path, tmp_path, "--flow", "TrainFlow", "--dry-run", "--out", str(out_dir)
    )
    assert out.exit_code == 0, out.output
    assert (
        "would write: project.yaml training.search.storage: secretsmanager:renkei/study-url "
        "(the studies' own database; the Batch job role may read that secret)" in out.output
    )
    deployed = yaml.safe_load((tmp_path / "production" / "project.yaml").read_text())
    assert deployed["training"]["search"]["storage"] == "secretsmanager:renkei/study-url"
    definition = json.loads((out_dir / "TrainFlow.json").read_text())
    states = definition["States"]
    [train] = [
        s["Iterator"]["States"]["train"]
        for s in states.values()
        if "train" in s.get("Iterator", {}).get("States", {})
    ]
    params = train["Parameters"]
    assert params["JobQueue"].endswith("renkei-gpu")
    reqs = {r["Type"]: r["Value"] for r in params["ContainerOverrides"]["ResourceRequirements"]}
    assert reqs["GPU"] == "1"


@pytest.mark.parametrize("storage", ["auto", "sqlite:///studies.db"])
def test_a_deployed_search_with_its_studies_in_sqlite_is_refused(
    moto_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, storage: str
) -> None:
    monkeypatch.setenv("METAFLOW_S3_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("METAFLOW_USER", "sora")
    aws_path = aws_world(moto_server, tmp_path)
    data = yaml.safe_load(aws_path.read_text())
    data.pop("search", None)  # no studies' secret named: project.yaml's storage as written
    aws_path.write_text(yaml.safe_dump(data, sort_keys=False))
    search = {**SEARCH["training__search"], "storage": storage}
    project = write_project(tmp_path, **{**SEARCH, "training__search": search})
    # refused even for a test account: no trial task could reach the others' study
    out = _deploy(project, aws_path, tmp_path, "--test-account")
    assert out.exit_code == 1, out.output
    want = (
        f"Error: {project}: training.search.storage is {storage!r}, a SQLite file on one Batch "
        "task's disk that the other trial tasks cannot reach: set search.secret_name in "
        f"{aws_path} (a Secrets Manager secret holding the studies' own PostgreSQL URL) or "
        "training.search.storage to secretsmanager:NAME"
    )
    assert want in out.output.splitlines(), out.output
    sfn = boto3.client("stepfunctions")
    assert sfn.list_state_machines()["stateMachines"] == []
    # the dry run shows it as what a real deployment refuses
    out = _deploy(
        project,
        aws_path,
        tmp_path,
        "--flow",
        "TrainFlow",
        "--dry-run",
        "--out",
        str(tmp_path / "sm"),
    )
    assert out.exit_code == 0, out.output
    assert want.replace("Error:", "warning (a real deployment is refused):") in out.output


def test_a_study_secret_that_is_the_ledgers_is_refused(
    moto_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("METAFLOW_USER", "sora")
    aws_path = aws_world(moto_server, tmp_path, search={"secret_name": "renkei/ledger-url"})
    project = write_project(tmp_path, **SEARCH)
    out = _deploy(project, aws_path, tmp_path, "--test-account")
    assert out.exit_code == 1, out.output
    assert (
        f"Error: {aws_path}: search.secret_name 'renkei/ledger-url' is the ledger's secret: the "
        "studies need a database of their own (Optuna and the ledger both keep Alembic's "
        "alembic_version)"
    ) in out.output.splitlines(), out.output
