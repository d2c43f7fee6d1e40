"""A uniform sample of at most ``size`` rows from frames that arrive one part at a time.

Each row gets a random key; the sample keeps the ``size`` rows with the smallest keys seen so
far (a reservoir: every row of the stream is equally likely to be in it, whatever the parts'
sizes). Memory: the sample plus one part.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


class Reservoir:
    def __init__(self, size: int, seed: int = 0) -> None:
        self.size = size
        self.rng = np.random.default_rng(seed)
        self.sample: pd.DataFrame | None = None
        self.keys = np.empty(0)
        self.seen = 0

    def add(self, part: pd.DataFrame) -> None:
        self.seen += len(part)
        keys = self.rng.random(len(part))
        if self.sample is None:
            both, all_keys = part.reset_index(drop=True), keys
        else:
            both = pd.concat([self.sample, part], ignore_index=True)
            all_keys = np.concatenate([self.keys, keys])
        if len(both) > self.size:
            keep = np.sort(np.argpartition(all_keys, self.size - 1)[: self.size])
            both, all_keys = both.iloc[keep].reset_index(drop=True), all_keys[keep]
        self.sample, self.keys = both, all_keys

    def frame(self) -> pd.DataFrame:
        return self.sample if self.sample is not None else pd.DataFrame()
