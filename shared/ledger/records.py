"""Old class paths of the ledger's records, for Metaflow artifacts pickled before each record
moved into its aggregate's module (runs, datasets, registry, releases, operations,
monitoring, audit): ``shared.ledger.records.IngestRecord`` still unpickles. New code imports
them from ``shared.ledger``."""

from shared.config.exports import lazy_exports
from shared.ledger import RECORD_MODULES

__getattr__ = lazy_exports("shared.ledger", RECORD_MODULES)
