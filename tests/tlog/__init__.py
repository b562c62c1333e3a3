"""Tests of provenance.tlog."""
