"""Write the seeds that need a ledger to make (a regulator's report, plain and signed) into
fuzz/corpus/. Run once after the report format changes: `python fuzz/make_corpus.py`."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from provenance.crypto import keys
from provenance.ledger.setup import initialise
from provenance.reports import build
from provenance.reports.periods import parse_period
from provenance.reports.verify import sign_report

CORPUS = Path(__file__).resolve().parent / "corpus"


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        done = initialise(
            str(Path(folder) / "l.db"),
            origin="fuzz.example/ledger",
            keys_dir=Path(folder) / "keys",
            with_catalog=True,
        )
        operator = keys.load_private(done.operator_key)
        report = build.regulator(done.ledger, parse_period("2026-Q4"), verify=False)
        envelope = sign_report(report, [operator])
        done.ledger.close()
    CORPUS.mkdir(exist_ok=True)
    (CORPUS / "report-plain.json").write_text(json.dumps(report, indent=1) + "\n")
    (CORPUS / "report-signed.json").write_text(json.dumps(envelope.to_json()) + "\n")


if __name__ == "__main__":
    main()
