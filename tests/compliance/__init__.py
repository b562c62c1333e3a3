"""Tests of provenance.compliance."""
