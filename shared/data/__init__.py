"""Data: contracts, validation, ingest, the generator, features, storage and provenance.

Layer: data, above config. May import shared.config only.
"""
