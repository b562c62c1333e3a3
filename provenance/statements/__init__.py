"""What parties sign: the statement models and the rules about them.

* `payloads`: one pydantic model per kind, and the field types they share.
* `kinds`: the one registry of statement kinds (model, predicate type, signer
  roles, date field, summary, help), and documents -> models.
* `authority`: who may sign what, and the state of every key over time.
* `signing`: a statement -> a signed DSSE envelope.
* `catalog`, `products`: the product catalogue and its product statements.
* `inspection`: recorded `nvidia-smi -q -x` output -> observed devices.
* `shipment_csv`: exporters' ERP CSV -> shipment documents.
"""
