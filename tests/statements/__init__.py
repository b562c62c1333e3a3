"""Tests of provenance.statements."""
