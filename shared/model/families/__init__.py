"""Model families: the Software 1.0 baseline rule, XGBoost and a PyTorch MLP, one module each
(``baseline``, ``xgboost_model``, ``torch_mlp``), behind ``registry`` (new_model,
load_model). torch is imported only inside ``torch_mlp``, when a torch model is fitted or
loaded; every family saves its artifact in an open format.

Every model takes validated rows (not features: it calls :func:`build_features` itself, so
training and scoring share one implementation) and serialises to open formats: JSON for
the baseline and XGBoost, a PyTorch state dict (loaded with ``weights_only=True``) plus JSON
metadata for the MLP. No pickles of arbitrary objects.
"""

from shared.config.exports import lazy_exports

# each name from its own module when first asked for: hashing a model's files (an approval's
# signature) needs ARTIFACT_FILES, not pandas, XGBoost or the families behind them
__getattr__ = lazy_exports(
    __name__,
    {
        "ARTIFACT_FILES": "files",
        "META": "files",
        "FitReport": "base",
        "Model": "base",
        "pick_device": "base",
        "Baseline": "baseline",
        "learn_stump": "baseline",
        "FAMILIES": "registry",
        "load_model": "registry",
        "new_model": "registry",
        "TorchMLP": "torch_mlp",
        "XGBoostModel": "xgboost_model",
    },
)

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
