"""Data: contracts, validation, ingest, the generator, features, storage and provenance."""
