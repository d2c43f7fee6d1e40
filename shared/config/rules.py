"""rules.yaml's schema (the guard's input and output rules) and check_rules, which fits them to a project."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from .base import DEFAULT_RULES_PATH, ConfigError, _load, _Strict
from .project import ProjectConfig

if TYPE_CHECKING:
    import numpy as np


class InputRule(_Strict):
    name: str = Field(pattern=r"^[a-z0-9_]+$")
    # confidence (multiclass): a model answer whose top class probability is below `min`
    kind: Literal[
        "range", "allowed", "expression", "envelope", "interval", "required", "confidence"
    ]
    action: Literal["reject", "fallback"] = "fallback"
    column: str | None = None
    min: float | None = None
    max: float | None = None
    values: list[str] | None = None
    expr: str | None = None
    margin: float = Field(0.5, ge=0.0)
    max_width: float | None = Field(None, gt=0.0)  # interval: the widest interval answered
    # required: features a row must have (a null or absent value fires the rule, its reason
    # naming the feature); on a nullable feature it overrides the contract's leniency, on
    # any other one it turns the contract's rejection into this rule's action
    columns: list[str] | None = None

    @model_validator(mode="after")
    def _check(self) -> InputRule:
        need = {
            "range": ("column",),
            "allowed": ("column", "values"),
            "expression": ("expr",),
            "interval": ("max_width",),
            "required": ("columns",),
        }
        for f in need.get(self.kind, ()):
            if getattr(self, f) is None:
                raise ValueError(f"rule {self.name!r} ({self.kind}) needs '{f}'")
        if self.kind == "confidence" and not (self.min is not None and 0 < self.min <= 1):
            raise ValueError(
                f"rule {self.name!r} (confidence) needs 'min': a probability in (0, 1]"
            )
        if self.kind == "range" and self.min is None and self.max is None:
            raise ValueError(f"rule {self.name!r} (range) needs 'min' or 'max'")
        return self


class OutputRule(_Strict):
    name: str = Field(pattern=r"^[a-z0-9_]+$")
    kind: Literal["floor", "cap", "round"]
    expr: str | None = None
    value: float | None = None
    decimals: int = 1

    @model_validator(mode="after")
    def _check(self) -> OutputRule:
        if self.kind == "floor" and self.expr is None:
            raise ValueError(f"rule {self.name!r} (floor) needs 'expr'")
        if self.kind == "cap" and self.value is None:
            raise ValueError(f"rule {self.name!r} (cap) needs 'value'")
        return self


class GuardLimits(_Strict):
    max_intervention_rate: float = Field(0.15, ge=0.0, le=1.0)


class RulesConfig(_Strict):
    version: int = 1
    input: list[InputRule] = []
    output: list[OutputRule] = []
    limits: GuardLimits = GuardLimits()

    @model_validator(mode="after")
    def _unique_names(self) -> RulesConfig:
        names = [r.name for r in self.input] + [r.name for r in self.output]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"rule names must be unique: {dup}")
        return self

    def rules_hash(self) -> str:
        data = self.model_dump(mode="json")
        for rule in data["input"]:  # the same hash as before `required` rules existed
            if rule["columns"] is None:
                del rule["columns"]
        canonical = json.dumps(data, sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


# functions pandas' eval knows (numexpr's math functions)
_EXPR_FUNCTIONS = frozenset(
    "sin cos tan exp log expm1 log1p sqrt sinh cosh tanh arcsin arccos arctan arctan2 "
    "arccosh arcsinh arctanh abs".split()
)


def _sample_columns(cfg: ProjectConfig) -> dict[str, np.ndarray]:
    """Two typed rows spanning each feature's domain, as the guard's arrays."""
    import numpy as np

    cols: dict[str, np.ndarray] = {}
    for name, spec in cfg.features.items():
        if spec.type in ("float", "int"):
            lo = spec.min if spec.min is not None else 0.0
            hi = spec.max if spec.max is not None else lo + 1.0
            cols[name] = np.array([lo, hi], dtype=float)
        elif spec.type == "bool":
            cols[name] = np.array([False, True])
        else:
            cols[name] = np.array(((spec.values or ["a", "b"]) * 2)[:2], dtype=object)
    return cols


def _sample_rows(cfg: ProjectConfig) -> Any:
    """The same two rows as a pandas frame (as the guard types them where pandas evaluates)."""
    import pandas as pd

    return pd.DataFrame(
        {
            name: pd.Series(col, dtype="string" if col.dtype == object else col.dtype)
            for name, col in _sample_columns(cfg).items()
        }
    )


def _expression_problems(expr: str, cfg: ProjectConfig, want: str) -> list[str]:
    """Why ``expr`` cannot be evaluated over the project's features (empty: it can).

    ``want`` is ``bool`` (an input rule: true where the row is fine) or ``number`` (a floor).
    """
    import ast

    import numpy as np

    from .expressions import compile_expression

    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except SyntaxError as e:
        return [f"expression {expr!r} is not valid: {e.msg}"]
    called = {
        n.func.id
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
    }
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - (called & _EXPR_FUNCTIONS)
    unknown = sorted(names - set(cfg.features))
    if unknown:
        return [
            f"expression {expr!r} names {', '.join(map(repr, unknown))}, not feature(s) of the "
            f"project (features: {', '.join(cfg.features)})"
        ]
    problems = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        sides = [node.left, *node.comparators]
        columns = [
            n.id for n in sides if isinstance(n, ast.Name) and cfg.features[n.id].type == "category"
        ]
        consts = [n for n in sides if isinstance(n, ast.Constant)]
        for n in sides:
            if isinstance(n, ast.List | ast.Tuple | ast.Set):
                consts += [e for e in n.elts if isinstance(e, ast.Constant)]
        for col in columns:
            allowed = cfg.features[col].values or []
            outside = [c.value for c in consts if str(c.value) not in allowed]
            if outside:
                problems.append(
                    f"expression {expr!r} compares {col!r} with {outside}, outside its "
                    f"values {allowed}"
                )
    if problems:
        return problems
    # the guard's own NumPy evaluation first (no pandas in a command that only loads the
    # rules); pandas' eval where NumPy cannot take the expression or finds a problem, so
    # what is refused, and the message saying why, are pandas' as before
    compiled = compile_expression(expr, set(cfg.features))
    if compiled is not None:
        try:
            if not _output_problems(expr, np.asarray(compiled(_sample_columns(cfg))), want):
                return []
        except Exception:  # noqa: BLE001 - pandas below says what is wrong
            pass
    try:
        out = np.asarray(_sample_rows(cfg).eval(expr))
    except Exception as e:  # noqa: BLE001 - any evaluation error is the rule's problem
        return [f"expression {expr!r} cannot be evaluated: {type(e).__name__}: {e}"]
    return _output_problems(expr, out, want)


def _output_problems(expr: str, out: np.ndarray, want: str) -> list[str]:
    """Why ``out`` is not what the rule needs: true or false, or a number, per row."""
    import numpy as np

    if want == "bool" and out.dtype != bool:
        return [f"expression {expr!r} must be true or false per row, not {out.dtype}"]
    if want == "number" and not np.issubdtype(out.dtype, np.number):
        return [f"expression {expr!r} must give a number per row, not {out.dtype}"]
    return []


def _rule_problems(rule: InputRule | OutputRule, cfg: ProjectConfig) -> list[str]:
    features = cfg.features
    if isinstance(rule, OutputRule):
        if cfg.task == "multiclass":
            return [
                "output rules (floor, cap, round) do not apply to a multiclass task's class "
                "probabilities: use a 'confidence' input rule"
            ]
        if rule.kind == "floor" and rule.expr is not None:
            return _expression_problems(rule.expr, cfg, "number")
        if rule.kind == "cap" and cfg.task == "binary" and not 0 <= (rule.value or 0) <= 1:
            return [f"cap {rule.value} is not a probability (binary task: between 0 and 1)"]
        return []
    if rule.kind == "confidence" and cfg.task != "multiclass":
        return [f"a confidence rule is for multiclass tasks; project {cfg.name!r} is {cfg.task}"]
    if rule.kind == "expression" and rule.expr is not None:
        return _expression_problems(rule.expr, cfg, "bool")
    if rule.kind == "required":
        unknown = [c for c in rule.columns or [] if c not in features]
        if unknown or not rule.columns:
            return [
                f"columns {unknown or '[]'} must name feature(s) of the project (features: "
                f"{', '.join(features)})"
            ]
        return []
    if rule.kind not in ("range", "allowed"):
        return []
    col = rule.column or ""
    if col not in features:
        return [f"column {col!r} is not a feature of the project (features: {', '.join(features)})"]
    spec = features[col]
    if rule.kind == "range" and spec.type not in ("float", "int", "bool"):
        return [f"a range needs a numeric feature; {col!r} is {spec.type}"]
    if rule.kind == "allowed" and spec.type == "category":
        outside = [v for v in rule.values or [] if v not in (spec.values or [])]
        if outside:
            return [f"value(s) {outside} are not among {col!r}'s values {spec.values}"]
    return []


def check_rules(rules: RulesConfig, cfg: ProjectConfig, source: str) -> None:
    """Raise :class:`ConfigError` unless every rule fits the project's features.

    A range or allowed rule must name a feature (a range: a numeric one; allowed values of
    a category: among its values); an expression may name only features and compare a
    category only with its values, and must evaluate (true/false for input rules, a number
    for floors; constants are fine). The message names the file, the rule and the problem.
    """
    problems = [
        f"rule {rule.name!r} ({rule.kind}): {problem}"
        for rule in [*rules.input, *rules.output]
        for problem in _rule_problems(rule, cfg)
    ]
    if problems:
        raise ConfigError(
            f"{source}: rules do not fit project {cfg.name!r}: " + "; ".join(problems)
        )


def load_rules(
    path: str | Path = DEFAULT_RULES_PATH, cfg: ProjectConfig | None = None
) -> RulesConfig:
    """Read and validate a guard rules file; with ``cfg``, check it fits the project too."""
    rules = _load(path, RulesConfig)
    if cfg is not None:
        check_rules(rules, cfg, str(path))
    return rules
