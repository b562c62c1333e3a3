"""Tests of provenance.crypto."""
