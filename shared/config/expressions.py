"""Rule expressions compiled to NumPy: a guard rule's ``expr`` as a function of the typed
columns, where NumPy gives what pandas' ``eval`` gives (else None: pandas evaluates it)."""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

_FUNCS: dict[str, Callable[..., Any]] = {
    "abs": np.abs,
    "sqrt": np.sqrt,
    "log": np.log,
    "log10": np.log10,
    "log1p": np.log1p,
    "exp": np.exp,
    "expm1": np.expm1,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "arcsin": np.arcsin,
    "arccos": np.arccos,
    "arctan": np.arctan,
    "sinh": np.sinh,
    "cosh": np.cosh,
    "tanh": np.tanh,
}
_NODES = (
    ast.Expression,
    ast.BinOp,
    ast.UnaryOp,
    ast.Compare,
    ast.Name,
    ast.Constant,
    ast.Call,
    ast.Load,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.Pow,
    ast.Mod,
    ast.FloorDiv,
    ast.USub,
    ast.UAdd,
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
)


def compile_expression(expr: str, names: set[str]) -> Callable[[Mapping[str, Any]], Any] | None:
    """``expr`` as a function of the typed columns, or None where NumPy could differ from
    pandas' ``eval`` (boolean operators, ``in``, attributes ...): those use pandas."""
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if not isinstance(node, _NODES):
            return None
        if isinstance(node, ast.Call) and (
            not isinstance(node.func, ast.Name)
            or node.func.id not in _FUNCS
            or node.keywords
            or len(node.args) != 1
        ):
            return None
        if isinstance(node, ast.Compare) and len(node.ops) != 1:
            return None  # chained comparisons mean `and` in Python, not in pandas
        if isinstance(node, ast.Constant) and not isinstance(node.value, int | float | str):
            return None
    called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call)}
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - called
    if not used <= names:
        return None
    code = compile(tree, f"<rule {expr!r}>", "eval")

    def run(columns: Mapping[str, Any]) -> Any:
        scope = {**_FUNCS, **{k: columns[k] for k in used}}
        with np.errstate(all="ignore"):
            return eval(code, {"__builtins__": {}}, scope)  # noqa: S307 - checked AST above

    return run
