"""The flows' one-line error: what a Metaflow ``Config`` parser and a flow step raise to end
with one clear message and no traceback (Metaflow prints its own exceptions as a message).

In the config layer because the Config parsers (shared.config.metaflow) raise it; imported
only where it is raised, since it loads Metaflow. shared.flowkit re-exports it.
"""

from __future__ import annotations

from metaflow.exception import MetaflowException


class RenkeiFlowError(MetaflowException):
    """Ends a step with one clear message and no traceback."""

    headline = "Renkei"
