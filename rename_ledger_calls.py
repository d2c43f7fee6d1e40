"""Rewrite calls of the old flat Ledger API to the repository form, over a tree of .py files.

    python rename_ledger_calls.py DIR [DIR ...]        # rewrite in place
    python rename_ledger_calls.py --check DIR [...]    # list what would change, exit 1 if any

``<receiver>.<old_method>(`` becomes ``<receiver>.<repository>.<method>(`` when the receiver
is a ledger: an expression whose last name contains "ledger" (``ledger``, ``t.ledger``,
``obj.ledger()``, ``open_ledger(x)``, ``ledger_of(p)``), ``lg``, or ``Ledger.open(...)``.
A receiver that already is a repository (``ledger.datasets``) is left alone, so running the
script twice changes nothing the second time. Temporary: the lead deletes it after merging.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

RENAMES: dict[str, str] = {
    "audit": "audit.append",
    "audit_entries": "audit.entries",
    "verify_audit": "audit.verify",
    "start_run": "runs.start",
    "finish_run": "runs.finish",
    "flow_runs": "runs.all",
    "flow_run": "runs.get",
    "record_ingest": "datasets.record_ingest",
    "datasets": "datasets.all",
    "dataset": "datasets.get",
    "reports": "datasets.reports",
    "quarantine": "datasets.quarantine",
    "record_labels": "datasets.record_labels",
    "label_batches": "datasets.label_batches",
    "register_models": "registry.register",
    "models": "registry.models",
    "model": "registry.model",
    "lineage": "registry.lineage",
    "add_approval": "releases.add_approval",
    "approvals": "releases.approvals",
    "move_alias": "releases.move_alias",
    "alias": "releases.alias",
    "alias_history": "releases.history",
    "alias_at": "releases.alias_at",
    "deployments": "releases.deployments",
    "latest_deployment": "releases.latest_deployment",
    "deployment": "releases.deployment",
    "record_scoring_batch": "operations.record_scoring_batch",
    "scoring_batches": "operations.scoring_batches",
    "scoring_batch": "operations.scoring_batch",
    "batch_lineage": "operations.batch_lineage",
    "record_feedback": "operations.record_feedback",
    "feedback_batches": "operations.feedback_batches",
    "labelled_rows": "operations.labelled_rows",
    "record_monitoring": "monitoring.record",
    "set_retrain_run": "monitoring.set_retrain_run",
    "monitoring_reports": "monitoring.reports",
}

CALL = re.compile(r"\.(" + "|".join(sorted(RENAMES, key=len, reverse=True)) + r")\(")
NAME = re.compile(r"[A-Za-z_][A-Za-z_0-9]*$")
SKIP_DIRS = {".venv", ".git", "__pycache__", "node_modules", "migrations"}
SKIP_FILES = {"rename_ledger_calls.py"}


def _receiver(text: str, end: int) -> str:
    """The expression that ends at ``end`` (exclusive): names, dots and balanced (...)."""
    i = end
    while i > 0:
        c = text[i - 1]
        if c == ")":
            depth = 0
            while i > 0:
                i -= 1
                if text[i] == ")":
                    depth += 1
                elif text[i] == "(":
                    depth -= 1
                    if depth == 0:
                        break
            continue
        if c.isalnum() or c in "_.":
            i -= 1
            continue
        break
    return text[i:end]


def _is_ledger(receiver: str) -> bool:
    bare = re.sub(r"\([^()]*\)", "", receiver)  # drop call arguments, innermost first
    while "(" in bare:
        stripped = re.sub(r"\([^()]*\)", "", bare)
        if stripped == bare:
            return False
        bare = stripped
    if bare.endswith("Ledger.open"):
        return True
    m = NAME.search(bare)
    if m is None:
        return False
    last = m.group(0)
    return last == "lg" or "ledger" in last.lower()


def rewrite(text: str) -> str:
    out, pos = [], 0
    for m in CALL.finditer(text):
        if not _is_ledger(_receiver(text, m.start())):
            continue
        out.append(text[pos : m.start()])
        out.append(f".{RENAMES[m.group(1)]}(")
        pos = m.end()
    out.append(text[pos:])
    return "".join(out)


def files(roots: list[str]) -> list[Path]:
    found = []
    for root in map(Path, roots):
        paths = [root] if root.is_file() else sorted(root.rglob("*.py"))
        for p in paths:
            if SKIP_DIRS.isdisjoint(p.parts) and p.name not in SKIP_FILES:
                if not str(p).replace("\\", "/").endswith("shared/ledger/" + p.name):
                    found.append(p)
    return found


def main(argv: list[str]) -> int:
    check = "--check" in argv
    roots = [a for a in argv if a != "--check"] or ["."]
    changed = []
    for p in files(roots):
        old = p.read_text()
        new = rewrite(old)
        if new != old:
            changed.append(p)
            if not check:
                p.write_text(new)
    for p in changed:
        print(("would rewrite " if check else "rewrote ") + str(p))
    return 1 if check and changed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
