"""Which errors Renkei reports in one line (the CLI's top level, the flows' run context).

Renkei's own errors, the database's, storage's (files, S3) and bundles': each is something
the user can act on, so it is shown as one line saying what happened, never a traceback.
Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


def expected_errors() -> tuple[type[BaseException], ...]:
    """The exception classes reported in one line."""
    from sqlalchemy.exc import SQLAlchemyError

    from shared.config import ConfigError
    from shared.data.validation import RawInputError
    from shared.deploy import DeployError
    from shared.guard.bundle import BundleError
    from shared.ledger import LedgerError
    from shared.monitor.monitoring import MonitoringError
    from shared.release import ReleaseRefused
    from shared.training import TrainingError

    found: list[type[BaseException]] = [
        BundleError,
        ConfigError,
        DeployError,
        LedgerError,
        MonitoringError,
        ReleaseRefused,
        TrainingError,
        RawInputError,
        SQLAlchemyError,
        OSError,
    ]
    try:
        from botocore.exceptions import BotoCoreError, ClientError

        found += [BotoCoreError, ClientError]
    except ImportError:  # pragma: no cover (boto3 is a dependency)
        pass
    return tuple(found)


def one_line(e: BaseException) -> str:
    """The first line of an error's message (a database error's driver message)."""
    from sqlalchemy.exc import SQLAlchemyError

    from shared.ledger import db_error

    if isinstance(e, SQLAlchemyError):
        return f"database error: {db_error(e)}"
    text = str(e).strip()
    line = text.splitlines()[0] if text else ""
    if isinstance(e, OSError) and not line.startswith("[Errno"):
        line = f"{type(e).__name__}: {line}" if line else type(e).__name__
    return line or type(e).__name__
