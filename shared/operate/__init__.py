"""Operate: scoring in batches, the HTTP scoring service and delayed feedback (labels)."""
