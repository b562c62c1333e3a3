"""Transparency-log formats and math, pure (no database).

* `merkle`: RFC 6962 / RFC 9162 hashing, inclusion and consistency proofs.
* `note`: C2SP signed notes and tlog checkpoints.
* `proof`: the C2SP tlog-proof text format.
"""
