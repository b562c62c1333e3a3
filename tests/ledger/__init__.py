"""Tests of provenance.ledger."""
