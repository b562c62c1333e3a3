"""Tests of provenance.reports."""
