"""Talking to a ledger served over HTTP, trusting nothing it is sent.

* `signing`: RFC 9421 HTTP Message Signatures of requests, made with a party's key
  (shared by the client and the server that checks them).
* `client`: `RemoteLedger`, the HTTP client the commands use: it verifies every
  checkpoint against the pinned ledger key, every receipt, and the consistency of each
  new checkpoint with the last one it saw (kept per origin in a state file).
* `mirror`: a verified replica of a served ledger in a database of one's own.
"""
