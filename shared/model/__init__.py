"""Model layer: families, metrics, conformal calibration and drift references: what a bundle
needs to answer and what training and monitoring compute over predictions.

May import: shared.config, shared.data (and third-party libraries). Nothing above.
"""
