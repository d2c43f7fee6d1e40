"""`renkei`: the command line over the ledger. Run `renkei --help`.

``main`` holds the group, its context and the entry point; one module per noun holds its
commands (``data``, ``models``, ``release``, ``operate``, ``monitor``, ``app``, ``deploy``,
``audit``, ``db``, ``keys``, ``tokens``); ``output`` prints every listing as a table or ``--json``.
"""

from . import app, audit, data, db, deploy, models, monitor, operate, release  # noqa: F401  (registers the commands)
from .keys import keys
from .main import Ctx, cli, main
from .tokens import tokens

cli.add_command(keys)
cli.add_command(tokens)

__all__ = ["Ctx", "cli", "main"]
