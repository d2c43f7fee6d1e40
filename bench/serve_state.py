"""What bench_serve.py serves, made by the checkout this runs in: a project trained twice
(tests.builders), its first candidate in production and the second attached as its shadow,
and an API token. bench_serve.py calls :func:`make` for this checkout's services and runs
this file with an older checkout's Python in that checkout (``--before``), so each service
serves bundles and a ledger its own code made.

    cd OLDER_CHECKOUT && .venv/bin/python /path/to/bench/serve_state.py FOLDER  # prints JSON
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any


def make(folder: Path) -> tuple[Any, str, str]:
    """The state under ``folder``: (the built project, its ledger URL, a bearer token)."""
    from shared.release import promote, review
    from shared.release.shadow import attach
    from tests.builders import build

    (folder / "p").mkdir(parents=True)
    url = f"sqlite:///{folder}/ledger.db"
    t = build(folder / "p", url, runs=2)
    v1, v2 = t.candidates
    for v, who in ((v1, "kenji"), (v1, "yui"), (v2, "kenji"), (v2, "yui")):
        review(t.ledger, t.roles, v, who, "ok", "approve")
    promote(t.ledger, t.roles, t.cfg, t.rules, v1, "production", "sora", "bench", None)
    attach(t.ledger, t.roles, t.cfg, t.rules, v2, "production", "sora", "bench", None)
    return t, url, t.ledger.trust.create_token("bench", "bench")


if __name__ == "__main__":
    sys.path.insert(0, os.getcwd())  # the checkout this runs in, not this file's
    t, url, token = make(Path(sys.argv[1]))
    print(json.dumps({"project": str(t.project_path), "ledger_url": url, "token": token}))
