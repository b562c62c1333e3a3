"""Tests of the command line (provenance.commands and cli.py), one module per command group."""
