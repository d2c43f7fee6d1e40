METAFLOW_PACKAGE_POLICY = "include"
"""Renkei's library: config, data contracts, generator, validation, ledger and CLI.

`METAFLOW_PACKAGE_POLICY = "include"` must stay first: it makes Metaflow ship this package
inside the flow's code package (AWS Batch, Step Functions) although it sits beside `flows/`.
"""

__version__ = "0.1.0"
