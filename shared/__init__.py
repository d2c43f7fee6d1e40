METAFLOW_PACKAGE_POLICY = "include"
"""Renkei's library, one subpackage per lifecycle stage (see README, Layout).

`METAFLOW_PACKAGE_POLICY = "include"` must stay first: it makes Metaflow ship this package
inside the flow's code package (AWS Batch, Step Functions) although it sits beside `flows/`.
"""

__version__ = "0.1.0"
