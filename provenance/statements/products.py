"""Product statements: the catalog as signed entries of the ledger.

`provenance init` signs every product of `rules/products.yaml` with the
operator key, so each ledger carries the catalog its serials are checked
against; `provenance product import` adds or supersedes products later, from
a catalog file (the format of `rules/products.yaml`) or from product documents.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from provenance import documents
from provenance.errors import InputError
from provenance.statements import kinds
from provenance.statements.catalog import Catalog, load_catalog, parse_catalog
from provenance.statements.payloads import ProductStatement


def catalog_statements(catalog: Catalog | None = None) -> list[ProductStatement]:
    """One product statement per catalog product (default: the packaged catalog)."""
    catalog = catalog if catalog is not None else load_catalog()
    return [ProductStatement.from_catalog(p, catalog.sources) for p in catalog.products]


def read_products(path: str | Path) -> list[ProductStatement]:
    """Product statements from a file: a catalog, one product document, or a list of them."""
    data = documents.read_bytes(path)
    name = documents.display_name(path)
    value = documents.parse(data, name)
    if isinstance(value, dict) and "products" in value:
        return catalog_statements(parse_catalog(data, source=name))
    items: list[Any] = value if isinstance(value, list) else [value]
    if not items or value is None:
        raise InputError(f"{name} holds no product")
    statements: list[ProductStatement] = []
    for i, item in enumerate(items):
        if isinstance(item, dict):
            item = {"kind": "product", **item}
        where = f"{name}, product {i + 1}" if len(items) > 1 else name
        statement = kinds.from_document(item, where)
        if not isinstance(statement, ProductStatement):
            raise InputError(f"{name}: product {i + 1} is a {statement.kind}, not a product")
        statements.append(statement)
    return statements
