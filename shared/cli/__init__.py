"""`renkei`: the command line over the ledger. Run `renkei --help`.

``main`` holds the group, its context and the entry point; one module per noun holds its
commands (``data``, ``models``, ``release``, ``operate``, ``monitor``, ``app``, ``deploy``,
``audit``, ``db``, ``intervals``, ``keys``, ``tokens``); ``output`` prints every listing as a table or ``--json``.

Layer: entry points (with shared.flowkit, flows/ and app/). May import every layer below:
the pipeline (shared.pipeline), reports (shared.reports), the lifecycle, guard, model, ledger, data, config.
"""

from . import (  # noqa: F401  (registers the commands)
    app,
    audit,
    data,
    db,
    deploy,
    intervals,
    keys,
    models,
    monitor,
    operate,
    release,
    tokens,
)
from .main import Ctx, cli, main

__all__ = ["Ctx", "cli", "main"]
