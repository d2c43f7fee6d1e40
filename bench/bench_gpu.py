"""GPU proof: the XGBoost and PyTorch MLP families fitted on ``cuda`` beside ``cpu``.

Same generated rows, same split, same settings; for each family and device: fit wall time,
iterations used (early stopping) and holdout MAE. Each GPU-fitted model is then written
with ``to_files`` and loaded back the way a bundle is (on the CPU) to show that a model
trained on a Batch GPU serves on a CPU-only host with the same answers.

Needs a CUDA device (run it on a GPU machine); without one it says so and exits 2.

    python bench/bench_gpu.py [--rows 200000]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from bench.common import write_table  # noqa: E402
from shared.config import load_project  # noqa: E402
from shared.model.families import FAMILIES, load_model, pick_device  # noqa: E402
from shared.model.metrics import evaluate  # noqa: E402
from shared.training import generated_split  # noqa: E402


def fit_on(family: str, device: str, split, cfg) -> tuple[object, object]:  # noqa: ANN001
    model = FAMILIES[family](cfg, device=device)
    report = model.fit(
        split.train, split.y("train"), split.validation, split.y("validation"), cfg.training.seed
    )
    return model, report


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rows", type=int, default=200_000)
    args = ap.parse_args()
    if pick_device() != "cuda":
        print("no CUDA device here: run bench/bench_gpu.py on a GPU machine")
        return 2
    import torch
    import xgboost

    cfg = load_project(REPO / "config" / "project.yaml")
    split = generated_split(cfg, args.rows, seed=11, bad_fraction=0.0)
    y = split.y("holdout")
    print(
        f"{torch.cuda.get_device_name(0)}; torch {torch.__version__}, xgboost "
        f"{xgboost.__version__}; split {split.sizes}",
        flush=True,
    )
    rows = []
    for family in ("xgboost", "torch_mlp"):
        seconds = {}
        for device in ("cpu", "cuda"):
            model, report = fit_on(family, device, split, cfg)
            pred = model.predict(split.holdout)
            mae = evaluate(cfg.task, y, pred, cfg.training.threshold)["mae"]
            seconds[device] = report.seconds
            check = "-"
            if device == "cuda":
                # a GPU-fitted model, loaded back from its files, answers the same on the CPU
                served = load_model(model.to_files(), cfg)
                diff = float(np.max(np.abs(served.predict(split.holdout) - pred)))
                check = f"served on {served.device}: max |diff| {diff:.2e}"
            rows.append(
                [
                    family,
                    device,
                    f"{report.seconds:.2f}",
                    str(report.iterations),
                    f"{mae:.3f}",
                    check,
                ]
            )
            print(rows[-1], flush=True)
        rows.append(
            [family, "cpu / cuda", f"{seconds['cpu'] / seconds['cuda']:.2f}x", "", "", "speed-up"]
        )
    write_table(
        "gpu",
        f"GPU proof: fits on cuda beside cpu, {args.rows:,} generated rows",
        rows,
        ["family", "device", "fit s", "iterations", "holdout MAE", "note"],
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
