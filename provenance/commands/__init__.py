"""The command line's groups, one module each, loaded only when one of their commands runs.

`cli.py` (the root) lists the commands from `COMMANDS` and their one-line help from
`SUMMARIES`, so that `provenance --help` imports none of these modules. `SUMMARIES`
is generated from the commands themselves (`cog -r provenance/commands/__init__.py`);
a test fails when it is stale.

Commands are thin: parse the options, call one library function, render the result
(`--json` for scripts). The library never prints or exits; errors reach the root,
which maps each class of `provenance.errors` to its exit code.
"""

from __future__ import annotations

COMMANDS: dict[str, tuple[str, str]] = {
    "attest": ("custody", "attest_group"),
    "check": ("compliance", "check"),
    "chip": ("custody", "chip"),
    "classify": ("compliance", "classify"),
    "config": ("configuration", "config_group"),
    "demo": ("demo", "demo"),
    "flag": ("compliance", "flag_group"),
    "init": ("setup", "init"),
    "key": ("keys", "key_alias"),
    "keys": ("keys", "key_group"),
    "ledger": ("ledger", "ledger_group"),
    "license": ("custody", "license_group"),
    "mirror": ("service", "mirror"),
    "monitor": ("monitor", "monitor"),
    "party": ("parties", "party_group"),
    "product": ("custody", "product_group"),
    "report": ("reports", "report_group"),
    "rules": ("compliance", "rules_group"),
    "schema": ("statements", "schema"),
    "screen": ("screening", "screen"),
    "screening": ("screening", "screening_group"),
    "shipment": ("custody", "shipment_group"),
    "serve": ("service", "serve"),
    "show": ("verify", "show"),
    "sign": ("statements", "sign_command"),
    "status": ("status", "status"),
    "verify": ("verify", "verify"),
    "witness": ("witness", "witness_group"),
}
"""Command name -> (module in this package, the click command in it)."""

HIDDEN = frozenset({"key"})
"""Names that work and are not listed: `key` is the deprecated name of `keys`."""


def load(name: str) -> object:
    """The click command `name`, importing its module."""
    import importlib

    module, attribute = COMMANDS[name]
    return getattr(importlib.import_module(f"{__name__}.{module}"), attribute)


def summaries_source() -> str:
    """The `SUMMARIES` table as Python source, from the commands' own help (for cog)."""
    import json
    import textwrap

    def literal(text: str) -> str:  # as `ruff format` writes it
        return json.dumps(text, ensure_ascii=False) if '"' not in text else repr(text)

    lines = ["SUMMARIES: dict[str, str] = {"]
    for name in sorted(COMMANDS):
        help_text = getattr(load(name), "help", None) or ""
        first = " ".join(help_text.strip().partition("\n\n")[0].split())
        row = f"    {literal(name)}: {literal(first)},"
        if len(row) <= 100:
            lines.append(row)
            continue
        lines.append(f"    {literal(name)}: (")
        parts = textwrap.wrap(first, 80, drop_whitespace=False, break_on_hyphens=False)
        lines.extend(f"        {literal(part)}" for part in parts)
        lines.append("    ),")
    lines.append("}")
    return "\n".join(lines) + "\n"


# [[[cog from provenance.commands import summaries_source; cog.out(summaries_source())]]]
SUMMARIES: dict[str, str] = {
    "attest": (
        "Sign and append what a party attests: manufacture, receipt, end use, inspection,"
        " lab tests, KYC, location measurements."
    ),
    "check": "Evaluate SHIPMENT_ID against the rule pack in force on its ship date.",
    "chip": "A chip's custody state and whole history, every entry verified.",
    "classify": "The ECCN of a chip, and why: from its catalog figures (--product) or given ones.",
    "config": "The configuration files: what they set, and from where.",
    "demo": "Run the whole story on an embedded SQLite ledger, narrating each step.",
    "flag": "Red flags: list them, and resolve one (cleared, confirmed, escalated).",
    "init": "Create a ledger, its operator party and keys, and sign the product catalog into it.",
    "key": (
        "Generate keys; list the key files and whose they are; register, rotate and "
        "revoke parties' keys."
    ),
    "keys": (
        "Generate keys; list the key files and whose they are; register, rotate and "
        "revoke parties' keys."
    ),
    "ledger": "Append to, prove, export and audit the ledger.",
    "license": "Export licenses, issued by a regulator.",
    "mirror": "Pull a served ledger into a verified replica (--db), for reports and audits.",
    "monitor": "Follow a served ledger and report entries about watched serials, parties, keys.",
    "party": "Register and show the parties that sign statements.",
    "product": "The product catalog serials are checked against (TPP, die area, PCI ids).",
    "report": "Compliance reports: for regulators, exporters and auditors; signed and verifiable.",
    "rules": "The rule packs: list, show, the fact vocabulary, and the example cases.",
    "schema": "Print the JSON Schema of a statement KIND (for generating files).",
    "screen": "Screen NAME against the restricted-party lists; exit 1 when a match is found.",
    "screening": "Restricted-party lists (the US Consolidated Screening List): import, list, show.",
    "serve": "Serve the ledger over HTTP: C2SP tlog-tiles for anyone, signed reads, the write API.",
    "shipment": "Register, import and look up shipments.",
    "show": "Decode the statements in BUNDLE: each entry's number, kind, signer, subjects, fields.",
    "sign": "Sign a statement offline: FILE (YAML/JSON, `-` for stdin) -> a DSSE envelope.",
    "status": "Where things stand: the ledger, its size, its last checkpoint, keys, open flags.",
    "verify": "Verify a receipt or a bundle offline, with no database.",
    "witness": "A transparency-log witness (C2SP tlog-witness): cosign consistent checkpoints.",
}
# [[[end]]]
"""The first paragraph of each command's help, as `provenance --help` lists it."""
