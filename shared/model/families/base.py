"""What every model family shares: the Model protocol, the fit report, the meta file and the device choice."""

from __future__ import annotations

import ctypes
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from shared.config import ProjectConfig
from shared.data.features import feature_space
from shared.model.families.files import META  # noqa: F401  (re-exported)


def pick_device() -> str:
    """``cuda`` when the CUDA driver sees a GPU, else ``cpu``.

    Asks the driver (libcuda) directly, so choosing a device imports no framework: fitting
    XGBoost never imports torch.
    """
    try:
        cuda = ctypes.CDLL("libcuda.so.1")
    except OSError:  # no NVIDIA driver on this machine
        return "cpu"
    count = ctypes.c_int(0)
    if cuda.cuInit(0) != 0 or cuda.cuDeviceGetCount(ctypes.byref(count)) != 0:
        return "cpu"
    return "cuda" if count.value > 0 else "cpu"


def release_freed_memory() -> None:
    """Hand the heap memory freed by a fit back to the system (glibc's ``malloc_trim``).

    XGBoost's and PyTorch's threads free their per-row buffers (gradients, row indices,
    activations) into malloc arenas that otherwise stay resident: the steps after a fit
    (calibration, holdout scoring) would add their own peak on top of them. A no-op where
    the C library has no ``malloc_trim`` (not glibc).
    """
    try:
        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return
    trim(0)


class PartSource(Protocol):
    """Rows held as parts (the training layer's spilled split): ``frames(part)`` yields the
    rows of ``train``, ``validation`` or ``holdout`` one part file at a time; ``sample(part)``
    is a seeded sample of at most ``sample_rows`` rows, for what cannot stream."""

    target: str
    sample_rows: int

    def frames(self, part: str, columns: list[str] | None = None) -> Iterator[pd.DataFrame]: ...

    def sample(self, part: str) -> pd.DataFrame: ...


class Model(Protocol):
    family: str
    device: str

    def predict(self, rows: pd.DataFrame) -> np.ndarray: ...

    def to_files(self) -> dict[str, bytes]: ...


@dataclass(frozen=True)
class FitReport:
    """How a fit went: device, wall time, iterations used (early stopping)."""

    family: str
    device: str
    seconds: float
    iterations: int


def _check_feature_list(meta: dict[str, Any], cfg: ProjectConfig) -> None:
    expected = list(feature_space(cfg).columns)
    if meta["features"] != expected:
        raise ValueError(
            "model was trained on other features than the project config declares: "
            f"{meta['features']} != {expected}"
        )
