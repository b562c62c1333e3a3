"""Tests of provenance.screening."""
