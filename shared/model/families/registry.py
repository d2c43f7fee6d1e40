"""The families by name: new_model, load_model and the files each one writes."""

from __future__ import annotations

import json
from typing import Any

from shared.config import ProjectConfig

from .base import Model
from .baseline import Baseline
from .files import ARTIFACT_FILES, META
from .torch_mlp import TorchMLP
from .xgboost_model import XGBoostModel

__all__ = ["ARTIFACT_FILES", "FAMILIES", "load_model", "new_model"]

FAMILIES: dict[str, Any] = {"baseline": Baseline, "xgboost": XGBoostModel, "torch_mlp": TorchMLP}


def new_model(family: str, cfg: ProjectConfig) -> Model:
    if family not in FAMILIES:
        raise ValueError(f"unknown model family {family!r} (known: {sorted(FAMILIES)})")
    return FAMILIES[family](cfg)


def load_model(files: dict[str, bytes], cfg: ProjectConfig) -> Model:
    """Rebuild a model from its files (as written by ``to_files``)."""
    family = json.loads(files[META])["family"]
    return FAMILIES[family].from_files(files, cfg)
