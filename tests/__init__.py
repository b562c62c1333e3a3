"""Tests of provenance, mirroring its packages."""
