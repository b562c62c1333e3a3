"""Projections: the query tables derived from the entries, one handler per kind.

A handler receives an accepted statement (already verified and authorised) and
writes the rows that make it queryable. It may also refuse it, with an
`InputError` naming the field, when the statement contradicts what the ledger
already holds (an unknown party, a serial registered twice); the append's
transaction then writes nothing.

* `tables`: the projection tables (importing them loads no handler);
* `handlers`: apply accepted statements (`project`, `prefetch`), clear for replay;
* `writer`: the batched writer, the handler registry, the checks handlers share;
* `parties`, `custody`, `flags`: the handlers, by domain.

Every projection is rebuilt from the entries by `replay`, and a test checks
the result equals what the appends wrote.
"""
