"""shared/ stays one concept per module: no module over 350 lines, every subpackage a
package, and only shared/paths.py knows where the flow and app files lie."""

from __future__ import annotations

import ast
import re
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared"
MAX_LINES = 350
# modules another change is splitting now (the ledger as repositories, issue 13 item 2);
# each entry says why it is still allowed over the limit
PENDING_SPLIT: dict[str, str] = {}
# a bare path (no spaces) to a flow or the app
FLOW_OR_APP_PATH = re.compile(r"^(\./)?(flows|app)(/[\w./-]*)?$|^[\w./-]*(_flow\.py|Home\.py)$")


def _modules() -> list[Path]:
    return sorted(p for p in SHARED.rglob("*.py") if "migrations" not in p.parts)


def test_no_module_over_350_lines() -> None:
    too_long = {
        str(p.relative_to(SHARED)): n
        for p in _modules()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
        and str(p.relative_to(SHARED)) not in PENDING_SPLIT
    }
    assert not too_long, f"split these into one concept per module: {too_long}"


def test_every_subpackage_has_an_init() -> None:
    folders = {p.parent for p in _modules()} | {
        d for d in SHARED.rglob("*") if d.is_dir() and "__pycache__" not in d.parts
    }
    missing = [
        str(d.relative_to(SHARED))
        for d in sorted(folders)
        if "migrations" not in d.parts and not (d / "__init__.py").is_file()
    ]
    assert not missing, f"add an __init__.py (a docstring and re-exports) to: {missing}"


def test_package_inits_only_document_and_reexport() -> None:
    """A package's __init__.py holds a docstring, imports, constants, __all__ and lazy
    re-exports (shared.config.exports), never code."""
    code = {}
    for init in SHARED.rglob("__init__.py"):
        if "migrations" in init.parts:
            continue
        body = ast.parse(init.read_text(encoding="utf-8")).body
        for node in body:
            doc = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
            imports = isinstance(node, ast.Import | ast.ImportFrom)
            constant = isinstance(node, ast.Assign) and (
                isinstance(node.value, ast.Constant)  # METAFLOW_PACKAGE_POLICY, __version__
                or [t.id for t in node.targets if isinstance(t, ast.Name)] == ["__all__"]
            )
            lazy = (  # re-exports loaded on first use: __getattr__ = lazy_exports(__name__, {...})
                isinstance(node, ast.Assign)
                and [t.id for t in node.targets if isinstance(t, ast.Name)] == ["__getattr__"]
                and isinstance(node.value, ast.Call)
                and ast.unparse(node.value.func) == "lazy_exports"
                and all(isinstance(a, ast.Name | ast.Dict) for a in node.value.args)
            )
            if not (doc or imports or constant or lazy):
                code.setdefault(str(init.relative_to(SHARED)), node.lineno)
    assert not code, f"move code out of these __init__.py files (first at line): {code}"


def _path_parts(tree: ast.AST) -> set[int]:
    """ids of the string constants used as path parts: ``x / "app"``, ``os.path.join(.., "app")``."""
    parts: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            parts |= {id(node.left), id(node.right)}
        elif isinstance(node, ast.Call) and ast.unparse(node.func).endswith("path.join"):
            parts |= {id(a) for a in node.args}
    return parts


def test_only_paths_module_knows_flow_and_app_files() -> None:
    """No string in shared/ (outside shared/paths.py) is a path to flows/ or app/; messages
    that tell a user what to run (with spaces) are fine, and so is a bare word such as the
    app's key name, unless it is joined into a path."""
    found = []
    for p in _modules():
        if p == SHARED / "paths.py":
            continue
        tree = ast.parse(p.read_text(encoding="utf-8"))
        parts = _path_parts(tree)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and FLOW_OR_APP_PATH.match(node.value)
                and ("/" in node.value or "." in node.value or id(node) in parts)
            ):
                found.append(f"{p.relative_to(SHARED)}:{node.lineno}: {node.value!r}")
    assert not found, f"reach flow and app files through shared.paths: {found}"
