"""Old path of ``FitReport`` for artifacts pickled before it moved to shared.model.families.base."""

from shared.model.families.base import FitReport

__all__ = ["FitReport"]
