"""Connecting to the ledger's database and its schema revisions (Alembic).

Only :func:`upgrade` changes the schema (``renkei db upgrade``, ``Ledger.open(create=True)``);
opening an existing ledger reads its revision and refuses an outdated one in one line.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import ConnectionPoolEntry

from shared.config.errors import db_error
from shared.ledger.vocab import LedgerError

if TYPE_CHECKING:  # alembic is imported where a revision is read or a migration runs
    from alembic.config import Config as AlembicConfig

NO_LEDGER_HINT = (
    "check the URL (--ledger, RENKEI_LEDGER_URL or storage.ledger_url), "
    "or create a new ledger with `renkei db upgrade`"
)
MIGRATIONS = "migrations"
PG_MIGRATION_LOCK = 7262001


def make_engine(url: str, create: bool) -> Engine:
    """An engine for ``url``; a missing SQLite file is refused unless ``create``."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:":
            path = Path(u.database)
            if not path.is_file():
                if not create:
                    what = "is a folder, not a ledger" if path.exists() else "does not exist"
                    raise LedgerError(f"no ledger at {url}: {path} {what}: {NO_LEDGER_HINT}")
                path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 60})

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn: object, _: ConnectionPoolEntry) -> None:
            dbapi_conn.isolation_level = None  # type: ignore[attr-defined]  # we issue BEGIN
            for pragma in ("journal_mode=WAL", "busy_timeout=60000", "foreign_keys=ON"):
                dbapi_conn.execute(f"PRAGMA {pragma}")  # type: ignore[attr-defined]

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    if u.get_backend_name() == "postgresql" and u.get_driver_name() in ("psycopg2", ""):
        u = u.set(drivername="postgresql+psycopg")
    return create_engine(u, pool_pre_ping=True)


def alembic_config() -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(resources.files("shared.ledger") / MIGRATIONS))
    return cfg


def _revision_links() -> dict[str, Any]:
    """Each migration's revision and the one it revises, read from the files' top-level
    ``revision = ...`` and ``down_revision = ...`` without importing Alembic or running them
    (every flow task opens the ledger: tests/ledger/test_schema.py checks this against
    Alembic's own reading)."""
    import ast

    links: dict[str, Any] = {}
    for f in (resources.files("shared.ledger") / MIGRATIONS / "versions").iterdir():
        if not f.name.endswith(".py") or f.name.startswith("_"):
            continue
        values = {
            t.id: ast.literal_eval(node.value)
            for node in ast.parse(f.read_text(encoding="utf-8")).body
            if isinstance(node, ast.Assign)
            for t in node.targets
            if isinstance(t, ast.Name) and t.id in ("revision", "down_revision")
        }
        links[values["revision"]] = values.get("down_revision")
    return links


@cache
def head_revision() -> str:
    """The newest schema revision this Renkei knows (the one no migration revises)."""
    links = _revision_links()
    revised = {r for down in links.values() for r in (down if isinstance(down, tuple) else (down,))}
    heads = set(links) - revised
    assert len(heads) == 1, f"the ledger's migrations need one head, not {sorted(heads)}"
    return heads.pop()


@cache
def known_revisions() -> frozenset[str]:
    return frozenset(_revision_links())


def url_of(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def current_revision(engine: Engine) -> str | None:
    """The ledger's stored schema revision (None: no schema there yet). Only reads."""
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except Exception as e:
        raise LedgerError(f"cannot open ledger {url_of(engine)}: {db_error(e)}") from e


def check_revision(engine: Engine) -> None:
    """Refuse, in one line, a ledger whose schema is not the one this Renkei needs."""
    at, head = current_revision(engine), head_revision()
    if at == head:
        return
    url = url_of(engine)
    if at is not None and at not in known_revisions():
        raise LedgerError(
            f"{url}: ledger schema is at revision {at}, newer than this Renkei knows "
            f"(it needs {head}): use the Renkei that upgraded it"
        )
    raise LedgerError(
        f"{url}: ledger schema is at revision {at or 'none'}, this Renkei needs {head}: "
        "run `renkei db upgrade`"
    )


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision (safe to call concurrently)."""
    from alembic import command

    cfg = alembic_config()
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text(f"SELECT pg_advisory_xact_lock({PG_MIGRATION_LOCK})"))
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    except Exception as e:
        raise LedgerError(f"cannot open ledger {url_of(engine)}: {db_error(e)}") from e
