"""Monitor: drift statistics, one function per check, the monitoring run and its retraining
start, cost and benefit, and the text reports."""
