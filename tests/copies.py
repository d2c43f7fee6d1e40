"""Expensive test states built once per test process, and a private copy of one per test.

A built project is a folder (project.yaml, the rules, roles and costs files, the data root)
and a ledger (a SQLite file in the folder, or a PostgreSQL database). The first time a state
is asked for, it is built in a folder of its own (the template); each test then gets a copy
at the paths it asked for: the folder copied file by file, the SQLite file copied, a
PostgreSQL database cloned with ``CREATE DATABASE ... TEMPLATE`` (no connection left open to
the template). The ledger and files name absolute paths, so every path of the template
(and the config hash, which covers the data root) is rewritten in the copy, and the audit
chain's hashes recomputed over the rewritten entries: the copy is the ledger a build at the
test's own paths would have written, and nothing in it points back at the template.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import yaml
from sqlalchemy import MetaData, create_engine, select, update
from sqlalchemy.engine import make_url

_ROOT: Path | None = None


@dataclass
class Template:
    folder: Path
    url: str  # its ledger
    built: Any  # what the build returned (its ledger closed)
    config_hash: str
    naming: list[Path]  # the files (besides the ledger) that name the folder
    snapshot: Path | None  # a SQLite ledger: a consistent copy of it, outside the folder


_TEMPLATES: dict[tuple, Template] = {}


def _root() -> Path:
    global _ROOT
    if _ROOT is None:
        _ROOT = Path(tempfile.mkdtemp(prefix=f"renkei-templates-{os.getpid()}-"))
        atexit.register(shutil.rmtree, _ROOT, ignore_errors=True)
    return _ROOT


def _is_sqlite(url: str) -> bool:
    return url.startswith("sqlite:///")


def _sqlite_file(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def _admin_url(url: str) -> str:
    """The server's maintenance database (``postgres``), as a psycopg connection string."""
    u = make_url(url).set(drivername="postgresql", database="postgres")
    return u.render_as_string(hide_password=False)


def template_key(tmp: Path, url: str) -> tuple | None:
    """What a build at ``tmp`` with ledger ``url`` depends on besides its parameters: the
    ledger's kind and place (a SQLite file's name in ``tmp``, or the PostgreSQL server), and
    the config files ``tmp`` holds already. None: no template fits (a SQLite ledger
    outside ``tmp``), build in place."""
    if _is_sqlite(url):
        db = _sqlite_file(url)
        if db.parent != tmp:
            return None
        where: tuple = ("sqlite", db.name)
    else:
        u = make_url(url)
        where = ("postgresql", u.host, u.port)
    present = tuple((p.name, p.read_bytes()) for p in sorted(tmp.iterdir()) if p.suffix == ".yaml")
    return (*where, present)


def copy_of(
    key: tuple,
    tmp: Path,
    url: str,
    build: Callable[[Path, str], Any],
    config_hash: Callable[[Path], str],
) -> Any:
    """Lay a copy of the state ``build(folder, url)`` makes at ``tmp`` with ledger ``url``
    (built once per key in this process); return what that build returned."""
    if key not in _TEMPLATES:
        _TEMPLATES[key] = _make_template(tmp, url, build, config_hash)
    t = _TEMPLATES[key]
    db = _sqlite_file(t.url) if t.snapshot else None
    skip = {*t.naming, db, Path(f"{db}-wal"), Path(f"{db}-shm"), Path(f"{db}-journal")}
    for src in sorted(t.folder.rglob("*")):
        dest = tmp / src.relative_to(t.folder)
        if src.is_dir():
            dest.mkdir(parents=True, exist_ok=True)
        elif src not in skip and not (dest.exists() and src.suffix == ".yaml"):
            shutil.copy2(src, dest)  # the test's own config files stay as they are
    project = tmp / "project.yaml"
    data = yaml.safe_load((t.folder / "project.yaml").read_text())
    data["storage"] = {"data_root": str(tmp / "data"), "ledger_url": url}
    project.write_text(yaml.safe_dump(data, sort_keys=False))  # as the build writes it
    swaps = [(str(t.folder), str(tmp)), (t.config_hash, config_hash(project))]
    for src in t.naming:
        if src.name != "project.yaml":
            (tmp / src.relative_to(t.folder)).write_text(_replace(src.read_text(), swaps))
    if t.snapshot:
        shutil.copyfile(t.snapshot, _sqlite_file(url))
    else:
        name, tmpl = make_url(url).database, make_url(t.url).database
        with psycopg.connect(_admin_url(url), autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            c.execute(f'CREATE DATABASE "{name}" TEMPLATE "{tmpl}"')
    rewrite_ledger(url, swaps)
    return t.built


def _make_template(
    tmp: Path, url: str, build: Callable[[Path, str], Any], config_hash: Callable[[Path], str]
) -> Template:
    folder = Path(tempfile.mkdtemp(prefix="t", dir=_root()))
    for p in tmp.iterdir():  # the config files the test's folder holds already
        if p.suffix == ".yaml":
            shutil.copyfile(p, folder / p.name)
    if _is_sqlite(url):
        tmpl_url = f"sqlite:///{folder / _sqlite_file(url).name}"
    else:
        name = f"template_{os.getpid()}_{folder.name}"
        with psycopg.connect(_admin_url(url), autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        tmpl_url = make_url(url).set(database=name).render_as_string(hide_password=False)
    built = build(folder, tmpl_url)
    built.ledger.close()  # no connection may stay open to a template database
    snapshot = None
    if _is_sqlite(tmpl_url):  # the backup API reads committed pages, WAL included
        snapshot = _root() / f"{folder.name}.db"
        with (
            closing(sqlite3.connect(_sqlite_file(tmpl_url))) as src,
            closing(sqlite3.connect(snapshot)) as dest,
        ):
            src.backup(dest)
    if list(folder.rglob("audit-anchors*")):  # signed chain heads: a copy's would not match
        raise AssertionError(f"{folder}: a state with audit anchors cannot be copied")
    marker = str(folder).encode()
    db_name = _sqlite_file(tmpl_url).name if snapshot else "\0"
    naming = []
    for p in sorted(folder.rglob("*")):
        if p.is_file() and not p.name.startswith(db_name) and marker in p.read_bytes():
            if p.suffix not in (".yaml", ".json", ".jsonl", ".csv", ".txt"):
                raise AssertionError(f"{p} names the template folder and is not text")
            naming.append(p)
    return Template(folder, tmpl_url, built, config_hash(folder / "project.yaml"), naming, snapshot)


def _replace(value: Any, swaps: list[tuple[str, str]]) -> Any:
    if isinstance(value, str):
        for a, b in swaps:
            value = value.replace(a, b)
        return value
    if isinstance(value, list):
        return [_replace(v, swaps) for v in value]
    if isinstance(value, dict):
        return {_replace(k, swaps): _replace(v, swaps) for k, v in value.items()}
    return value


def rewrite_ledger(url: str, swaps: list[tuple[str, str]]) -> None:
    """Rewrite ``swaps`` in every text and JSON value of the ledger at ``url``, then recompute
    the audit chain's hashes (the entries' details name paths too)."""
    from shared.ledger.unit import entry_hash

    engine = create_engine(url)
    try:
        meta = MetaData()
        meta.reflect(engine)
        with engine.begin() as c:
            for table in meta.sorted_tables:
                pk = list(table.primary_key.columns)
                if not pk:
                    continue
                for row in c.execute(select(table)).mappings().all():
                    new = {k: _replace(v, swaps) for k, v in row.items()}
                    changed = {k: v for k, v in new.items() if v != row[k]}
                    if changed:
                        where = [col == row[col.name] for col in pk]
                        c.execute(update(table).where(*where).values(**changed))
            entries, head = meta.tables["audit_log"], meta.tables["audit_head"]
            rows = c.execute(select(entries).order_by(entries.c.id)).mappings().all()
            prev = rows[0]["prev_hash"] if rows else None
            for e in rows:
                h = entry_hash(prev, e["ts"], e["actor"], e["action"], e["subject"], e["details"])
                c.execute(
                    update(entries).where(entries.c.id == e["id"]).values(prev_hash=prev, hash=h)
                )
                prev = h
            if rows:
                c.execute(update(head).values(last_hash=prev))
    finally:
        engine.dispose()
