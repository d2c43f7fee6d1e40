"""Operate: scoring in batches, the HTTP scoring service and delayed feedback (labels).

Layer: lifecycle, above release. May import shared.release, shared.trust, shared.training
and the layers below: guard, model, ledger, data, config. Never shared.monitor.
"""
