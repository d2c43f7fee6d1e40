"""Monitor: one function per check (the drift statistics are shared.model.drift), the monitoring run and its retraining
start, cost and benefit, and the text reports.

Layer: lifecycle, top. May import shared.operate (captured traffic), shared.training,
shared.deploy (starting a retraining run) and the layers below: guard, model, ledger, data,
config.
"""
