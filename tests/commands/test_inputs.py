"""Every command that reads an input file exits 2 (bad input, nothing written) with one
`error:` line naming the file when it is not there, as the README's table says."""

from __future__ import annotations

import pytest

from tests.commands.test_custody import (  # noqa: F401 (fixtures)
    Trade,
    catalog,
    fresh,
    one_error_line,
    trade,
)

KEY = ("--key", "meridian.pem")
COMMANDS = {
    "party register": (
        ["party", "register", "nope.yaml", "--key", "keys/operator.pem"],
        "nope.yaml",
    ),
    "party register --public-key": (
        [
            "party",
            "register",
            "meridian.yaml",
            "--public-key",
            "nope.pub",
            "--key",
            "keys/operator.pem",
        ],
        "nope.pub",
    ),
    "shipment register": (["shipment", "register", "nope.yaml", *KEY], "nope.yaml"),
    "shipment import": (["shipment", "import", "nope.csv", *KEY], "nope.csv"),
    "attest receipt": (["attest", "receipt", "nope.yaml", *KEY], "nope.yaml"),
    "attest inspection --nvidia-smi": (
        ["attest", "inspection", "meridian.yaml", "--nvidia-smi", "nope.xml", *KEY],
        "nope.xml",
    ),
    "attest kyc": (["attest", "kyc", "nope.csv", *KEY], "nope.csv"),
    "license issue": (["license", "issue", "nope.yaml", *KEY], "nope.yaml"),
    "product import": (["product", "import", "nope.yaml", *KEY], "nope.yaml"),
    "sign": (["sign", "nope.yaml", *KEY], "nope.yaml"),
    "sign --key": (["sign", "meridian.yaml", "--kind", "party", "--key", "nope.pem"], "nope.pem"),
    "keys add": (["keys", "add", "meridian", "--public-key", "nope.pub", *KEY], "nope.pub"),
    "ledger append": (["ledger", "append", "nope.json"], "nope.json"),
    "ledger import": (["ledger", "import", "nope.jsonl"], "nope.jsonl"),
    "ledger rotate-key": (
        ["ledger", "rotate-key", "nope.pem", "--overlap-until", "2027-01-01", *KEY],
        "nope.pem",
    ),
    "verify": (["verify", "nope.json", "--ledger-key", "keys/ledger.vkey"], "nope.json"),
    "verify --ledger-key": (["verify", "nope.json", "--ledger-key", "nope.vkey"], "nope.vkey"),
    "show": (["show", "nope.json"], "nope.json"),
    "report verify": (["report", "verify", "nope.json"], "nope.json"),
    "screening import": (
        ["screening", "import", "nope.csv", "--key", "keys/operator.pem"],
        "nope.csv",
    ),
}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_missing_input_file_is_exit_2(trade: Trade, name: str) -> None:  # noqa: F811
    args, missing = COMMANDS[name]
    result = trade(*args)
    if result.exit_code == 2 and result.stderr.startswith(("Usage:", "Error:")):
        assert missing in result.stderr  # click's own check (click.Path(exists=True))
        return
    error = one_error_line(result, 2)
    assert missing in error, error
