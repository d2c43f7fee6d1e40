"""Lazy re-exports for a package's ``__init__.py`` (PEP 562): a name is imported from its
module on first use, so importing the package does not load every module behind it.

    __getattr__ = lazy_exports(__name__, {"AwsConfig": "aws", ...})

``from package import AwsConfig`` still works; the importing process loads ``aws`` only
then (tests/unit/test_layers.py counts what importing the service loads).
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any


def lazy_exports(package: str, names: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` resolving each of ``names`` (name -> submodule) on first use."""

    def __getattr__(name: str) -> Any:
        if name in names:
            return getattr(import_module(f"{package}.{names[name]}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
