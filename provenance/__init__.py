"""provenance: a signed, verifiable ledger of AI-chip custody and an export-control rules engine."""

__version__ = "0.1.0"
