"""Compliance reports: computed by SQL aggregates at a signed tree size, rendered for
people (Markdown, HTML with inline SVG plots, CSV) and machines (JSON with a schema),
signed as DSSE envelopes, and verified by recomputing them from the ledger.

* `periods`: `--period 2026-Q3` or `--from/--to` -> a date range.
* `figures`: the SQL aggregates (regulator and exporter reports), pinned to a tree size.
* `dossier`: an auditor's dossier of a chip or a shipment (every entry, signer, proof).
* `render`: Markdown, CSV and HTML; `charts`: the inline SVG plots.
* `signing`: the report as a signed statement; `verify`: recompute and compare.
"""
