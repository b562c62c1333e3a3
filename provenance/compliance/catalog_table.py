"""The catalogue as a table for people: each accelerator's figures and its ECCN under the
October 2023 rule and under the newest pack (what `docs/rules.md` shows)."""

from __future__ import annotations

from provenance.compliance.checks import classify_figures
from provenance.compliance.packs import Library
from provenance.statements.catalog import load_catalog


def markdown_table() -> str:
    """A Markdown table of every catalogued product (ids in catalogue order)."""
    library = Library.load()
    newest = max(library.files.values(), key=lambda p: p.effective_from)
    now = library.in_force(newest.effective_from)
    rows = [
        "| id | chip | TPP | die mm² | PD | datacenter | interconnect GB/s "
        f"| memory GB/s | ECCN (ear-2023-11) | ECCN ({now.id}) |",
        "|---|---|---:|---:|---:|---|---:|---:|---|---|",
    ]
    for product in load_catalog().products:
        then = classify_figures(product_id=product.id, pack_id="ear-2023-11").eccn
        current = classify_figures(product_id=product.id, pack_id=now.id).eccn
        pd = product.performance_density
        rows.append(
            f"| {product.id} | {product.vendor} {product.model} | {product.tpp:,} "
            f"| {product.die_area_mm2 or 'unknown'} | {f'{pd:.2f}' if pd is not None else '-'} "
            f"| {'yes' if product.datacenter else 'no'} | {product.interconnect_gbps or '-'} "
            f"| {product.memory_bandwidth_gbps or '-'} | {then} | {current} |"
        )
    return "\n".join(rows) + "\n"
