"""The rules engine: rule packs, facts, CEL evaluation, determinations.

* `vocabulary`: the facts a pack's conditions may name (printable).
* `packs`: load, resolve (`extends`), check and compile the dated YAML packs.
* `facts`: gather the facts of shipments from the projections, in bulk.
* `engine`: evaluate a pack on one shipment's facts -> a `Determination`.
* `checks`: pick the pack in force, determine, sign and append; `classify`.
* `cases`: the example cases in `rules/tests/` (`provenance rules test`).
"""
