"""Offline verification: what an auditor checks with the ledger's verifier key and no
database.

* `entries`: the leaf format and the entry, checkpoint and receipt value types
  (shared with the log, which writes them).
* `receipts`: a C2SP tlog-proof of one entry, checked against a signed checkpoint.
* `bundles`: many receipts and their signers' key history, checked together.
"""
