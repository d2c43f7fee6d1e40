"""Old path of :mod:`shared.model.families`, kept only so that Metaflow artifacts pickled
before the move still load: train runs store ``Candidate`` objects whose ``fit`` is a
``FitReport`` pickled as ``shared.training.families.base.FitReport``. New code imports
:mod:`shared.model.families`."""
