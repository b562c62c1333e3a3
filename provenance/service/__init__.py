"""The ledger as a network service (`provenance serve`): an ASGI application under uvicorn.

* `app`: the routes. Public, as C2SP tlog-tiles lays them out: `/checkpoint`,
  `/tile/<L>/<N>[.p/<W>]`, proofs; authenticated (RFC 9421 HTTP Message Signatures by a
  registered key): entry contents, entry bundles, chips and shipments, under the read
  policy of `ledger.access`; the write API `POST /v1/entries`.
* `batching`: concurrent submissions grouped into one transaction and one checkpoint,
  with pushback (429) beyond a bound of outstanding work.
* `requests`: verifying signed requests, the replay window, the per-key rate limit.
* `problems`: RFC 9457 problem details, one status per error class.
* `publication`: where a checkpoint is published (the hook witnesses' cosignatures use).
* `server`: the configuration, the checkpoint key's custody, uvicorn.
"""
