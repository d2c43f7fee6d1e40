"""Renkei's error base and which errors are reported in one line (the CLI's top level, the
flows' run context).

Every layer's own errors subclass :class:`RenkeiError` (and keep their builtin base, so an
``except ValueError`` written before still catches them). Renkei's errors, the database's and
storage's (files, S3) are something the user can act on, so each is shown as one line saying
what happened, never a traceback. Anything else is a bug and keeps its traceback.

Bottom layer: imports nothing from shared (SQLAlchemy and botocore only inside functions).
"""

from __future__ import annotations


class RenkeiError(Exception):
    """Base of Renkei's own errors: the message is one line that says what to do."""


def expected_errors() -> tuple[type[BaseException], ...]:
    """The exception classes reported in one line."""
    from sqlalchemy.exc import SQLAlchemyError

    found: list[type[BaseException]] = [RenkeiError, SQLAlchemyError, OSError]
    try:
        from botocore.exceptions import BotoCoreError, ClientError

        found += [BotoCoreError, ClientError]
    except ImportError:  # pragma: no cover (boto3 is a dependency)
        pass
    return tuple(found)


def db_error(e: BaseException) -> str:
    """One line for a database error: the driver's own first line, without SQL or links."""
    orig = getattr(e, "orig", None) or e
    text_ = str(orig).strip()
    line = text_.splitlines()[0] if text_ else type(orig).__name__
    if "readonly database" in line or "read-only" in line:
        return f"{line}: the ledger is read-only (check its file and folder permissions)"
    if "database is locked" in line:
        return f"{line}: another process holds the ledger; retry when it is done"
    return line


def one_line(e: BaseException) -> str:
    """The first line of an error's message (a database error's driver message)."""
    from sqlalchemy.exc import SQLAlchemyError

    if isinstance(e, SQLAlchemyError):
        return f"database error: {db_error(e)}"
    text = str(e).strip()
    line = text.splitlines()[0] if text else ""
    if isinstance(e, OSError) and not line.startswith("[Errno"):
        line = f"{type(e).__name__}: {line}" if line else type(e).__name__
    return line or type(e).__name__
