"""Model families: the Software 1.0 baseline rule, XGBoost and a PyTorch MLP, one module each
(``baseline``, ``xgboost_model``, ``torch_mlp``), behind ``registry`` (new_model,
load_model). torch is imported only inside ``torch_mlp``, when a torch model is fitted or
loaded; every family saves its artifact in an open format.

Every model takes validated rows (not features: it calls :func:`build_features` itself, so
training and scoring share one implementation) and serialises to open formats: JSON for
the baseline and XGBoost, a PyTorch state dict (loaded with ``weights_only=True``) plus JSON
metadata for the MLP. No pickles of arbitrary objects.
"""

from .base import META, FitReport, Model, pick_device
from .baseline import Baseline, learn_stump
from .registry import ARTIFACT_FILES, FAMILIES, load_model, new_model
from .torch_mlp import TorchMLP
from .xgboost_model import XGBoostModel

__all__ = [
    "ARTIFACT_FILES",
    "Baseline",
    "FAMILIES",
    "FitReport",
    "META",
    "Model",
    "TorchMLP",
    "XGBoostModel",
    "learn_stump",
    "load_model",
    "new_model",
    "pick_device",
]
