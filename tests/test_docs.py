"""The README's and the guides' shell examples, run as a new user would run them.

The guides are written to be run: their `sh` blocks, in order, in one shell, in an
empty folder. Each guide is run exactly so.

The README's `sh` blocks are a tour of the commands, not a script: the files they name
(`statement.yaml`, `serials.yaml`, ...) are the reader's own. `README_RUN` runs every
one of its commands, taken from the README's text (not copied here), between set-up
steps that write those files; `NOT_RUN` lists the few that are not run here, and why.
A README command in neither list, or one listed that the README no longer has, fails
the test: the list cannot go stale.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
GUIDES = sorted((ROOT / "docs" / "guides").glob("*.md"))
SMI = ROOT / "tests" / "data" / "nvidia-smi" / "h100-sxm5-x8-driver-565-SYNTHETIC.xml"


def fenced(text: str, language: str) -> list[str]:
    """The bodies of the fenced blocks of one language, in order."""
    return re.findall(rf"^```{language}\n(.*?)^```", text, re.S | re.M)


def commands(block: str) -> list[str]:
    """The commands of an `sh` block: continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", block)
    found = []
    for line in joined.splitlines():
        line = " ".join(re.sub(r"(^|\s)#(\s.*)?$", "", line).split())
        if line:
            found.append(line)
    return found


def shell(script: str, cwd: Path, timeout: int = 900) -> subprocess.CompletedProcess[str]:
    """Run SCRIPT with bash in CWD, `provenance` on the PATH, no PROVENANCE_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVENANCE_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["HOME"] = str(cwd)
    env["XDG_STATE_HOME"] = str(cwd / ".state")
    env["COLUMNS"] = "200"
    return subprocess.run(
        ["bash", "-e", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# --- the guides ---------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("guide", GUIDES, ids=[g.stem for g in GUIDES])
def test_a_guide_runs_in_an_empty_folder(guide: Path, tmp_path: Path) -> None:
    blocks = fenced(guide.read_text(encoding="utf-8"), "sh")
    assert blocks, f"{guide.name} has no sh block"
    result = shell("\n".join(blocks), tmp_path)
    assert result.returncode == 0, (
        f"{guide.name} stopped (exit {result.returncode}):\n{result.stderr[-3000:]}"
    )
    assert "internal error" not in result.stderr
    assert "Traceback" not in result.stderr
    shown = [" ".join(line.split()) for line in (result.stdout + result.stderr).splitlines()]
    stale = [line for line in shown_lines(guide) if not any(s.startswith(line) for s in shown)]
    assert not stale, f"{guide.name} shows output the commands no longer print:\n" + "\n".join(
        stale
    )


VARIES = re.compile(
    r"[0-9a-f]{8}|\+[A-Za-z0-9/+]{20,}|evaluated |generated |days after|^provenance |^export |^--"
)
"""A line of a guide's output block that is not compared: a digest, root or key (they
change with the keys a run generates), today's date or a count of days to it, or a
command (or its continuation) shown as text."""


def shown_lines(guide: Path) -> list[str]:
    """The lines of a guide's `text` blocks that its commands must print: each as a
    prefix of a line printed (a line ending in `...` is cut there), whitespace folded;
    `...` alone elides lines."""
    lines = []
    for block in fenced(guide.read_text(encoding="utf-8"), "text"):
        for line in block.splitlines():
            line = " ".join(line.split())
            if line.endswith("..."):
                line = line[:-3].rstrip()
            if line and not VARIES.search(line):
                lines.append(line)
    return lines


# --- the README ---------------------------------------------------------------------


def readme_yaml(after: str) -> str:
    """The README's YAML block that follows the text AFTER."""
    text = README.read_text(encoding="utf-8")
    return fenced(text[text.index(after) :], "yaml")[0]


SERIALS = [f"16549230001{n:02d}" for n in range(1, 13)]

PARTIES = {
    "meridian-exports": (["exporter"], "US", ["exporter"]),
    "nvidia": (["manufacturer"], "US", ["nvidia"]),
    "lionsgate-cloud": (["consignee", "end_user"], "SG", ["consignee", "end-user"]),
    "straits-audit": (["auditor"], "SG", ["auditor"]),
    "bis": (["regulator"], "US", ["regulator"]),
}


def parties_setup() -> str:
    lines = []
    for party, (roles, country, key_files) in PARTIES.items():
        lines.append(
            f"cat > {party}.yaml <<'EOF'\nid: {party}\nname: {party.title()} Ltd.\n"
            f"roles: [{', '.join(roles)}]\ncountry: {country}\nheadquarters: {country}\nEOF"
        )
        keys = []
        for name in key_files:
            lines.append(f"provenance keys generate {name} > /dev/null")
            keys += ["--public-key", f"{name}.pub"]
        lines.append(
            f"provenance party register {party}.yaml {' '.join(keys)} --key keys/operator.pem"
            " > /dev/null"
        )
    return "\n".join(lines)


def statements_setup() -> str:
    """Files the README's first block names: a statement of acme's, an envelope file."""
    report = "kind: report\nreport: {{kind: note, title: {title}}}\n"
    return "\n".join(
        [
            f"cat > statement.yaml <<'EOF'\n{report.format(title='first')}EOF",
            *(
                f"cat > note-{n}.yaml <<'EOF'\n{report.format(title=f'note {n}')}EOF\n"
                f"provenance sign note-{n}.yaml --key acme.pem --out note-{n}.env.json\n"
                f"tr -d '\\n' < note-{n}.env.json >> envelopes.jsonl; echo >> envelopes.jsonl"
                for n in range(2)
            ),
        ]
    )


def custody_setup() -> str:
    smi = SMI.read_text(encoding="utf-8")
    boards = re.findall(r"<serial>([^<]+)</serial>", smi)
    for board, serial in zip(boards, SERIALS, strict=False):
        smi = smi.replace(f"<serial>{board}</serial>", f"<serial>{serial}</serial>")
    quoted = ", ".join(f'"{s}"' for s in SERIALS)
    csv = (
        "shipment_id,exporter,consignee,end_user,forwarder,ship_date,destination,route,"
        "license,product,description,hs_code,quantity,serials,unit_value,currency\n"
        "MX-2026-0043,meridian-exports,lionsgate-cloud,lionsgate-cloud,,2026-10-20,SG,US;SG,"
        f"NLR,nvidia-h100-sxm5,NVIDIA H100 SXM5,8473.30.1180,2,{SERIALS[8]};{SERIALS[9]},"
        "30000.00,USD\n"
    )
    files = {
        "serials.yaml": (
            f"product: nvidia-h100-sxm5\nserials: [{quoted}]\ndate: 2026-09-14\nsite: TW\n"
        ),
        "shipment.yaml": readme_yaml("A shipment ("),
        "erp-export.csv": csv,
        "receipt.yaml": (
            f"shipment: MX-2026-0042\nserials: [{', '.join(quoted.split(', ')[:8])}]\n"
            "date: 2026-10-12\ncountry: SG\nsite: Jurong West data centre\n"
        ),
        "end-use.yaml": (
            "shipments: [MX-2026-0042]\ndate: 2026-09-28\nend_use: training language models\n"
            "sector: commercial cloud\nsite: {country: SG, facility: Jurong West data centre}\n"
            'facility_power_mw: "40"\ncertifications: {no_military: true, no_wmd: true, '
            "no_reexport: true, no_restricted_hq_access: true}\nvalid_until: 2027-09-28\n"
        ),
        "visit.yaml": (
            "site: {country: SG, facility: Jurong West data centre}\ndate: 2026-11-16\n"
            "findings: [all eight boards seen in hall B]\n"
        ),
        "node07.xml": smi,
        "license.yaml": (
            "id: LIC-2026-001\nexporter: meridian-exports\nconsignee: lionsgate-cloud\n"
            "end_user: lionsgate-cloud\ndestination: SG\neccns: [3A090.a]\n"
            "products: [nvidia-h100-sxm5]\nmax_quantity: 100\nvalid_from: 2026-01-01\n"
            "valid_until: 2026-12-31\n"
        ),
        "my-products.yaml": (
            "id: acme-x1\nvendor: Acme\nmodel: X1 accelerator\nnames: [Acme X1]\n"
            'performance: [{dtype: fp8, bits: 8, tops: "100"}]\ndie_area_mm2: "400"\n'
            "interconnect_gbps: 100\nmemory_bandwidth_gbps: 1000\nmemory: 32 GB HBM3\n"
            'datacenter: true\npci_device_ids: ["0x99990001"]\nhs_codes: ["8473.30.1180"]\n'
            'reference_price: {amount: "5000", currency: USD}\n'
        ),
        "consolidated.csv": (
            "_id,source,entity_number,type,programs,name,addresses,license_requirement,"
            "license_policy,alt_names\ne1,Entity List (EL) - Bureau of Industry and Security,,"
            'Entity,,Lotus Star Technology Trading Co. Limited,"88 Hennessy Road, Wan Chai, '
            'Hong Kong, HK",For all items subject to the EAR.,Presumption of denial.,'
            "Lotus Star Tech\n"
        ),
    }
    return "\n".join(f"cat > {name} <<'EOF'\n{body.rstrip()}\nEOF" for name, body in files.items())


SETUP = "setup"

README_RUN: list[tuple[str, tuple[int, ...]]] = [
    # "Using it"
    ("export PROVENANCE_DB=ledger.db", (0,)),
    ("provenance init --origin example.com/ledger --keys keys", (0,)),
    ("provenance keys generate acme", (0,)),
    (SETUP, (0,)),  # acme.yaml: the README's party file
    ("provenance party register acme.yaml --public-key acme.pub --key keys/operator.pem", (0,)),
    ("provenance keys list", (0,)),
    (SETUP, (0,)),  # statement.yaml, envelopes.jsonl
    ("provenance sign statement.yaml --key acme.pem --out statement.env.json", (0,)),
    ("provenance ledger append statement.env.json --receipt statement.receipt", (0,)),
    ("provenance ledger import envelopes.jsonl", (0,)),
    ("provenance ledger checkpoint --json", (0,)),
    ("provenance ledger proof 12 > entry-12.receipt", (0,)),
    ("provenance ledger consistency 10 20", (0,)),
    ("provenance ledger export --seq 12 -o bundle.json", (0,)),
    ("provenance ledger verify", (0,)),
    ("provenance verify bundle.json --ledger-key keys/ledger.vkey", (0,)),
    ("provenance show bundle.json", (0,)),
    ("provenance status", (0,)),
    # "Chips and their movements"
    (SETUP, (0,)),  # the parties, their keys and their files
    ("provenance product list", (0,)),
    ("provenance product import my-products.yaml --key keys/operator.pem", (0,)),
    ("provenance attest manufacture serials.yaml --key nvidia.pem", (0,)),
    ("provenance shipment register shipment.yaml --key exporter.pem", (0, 6)),
    ("provenance shipment import erp-export.csv --key exporter.pem", (0,)),
    ("provenance attest receipt receipt.yaml --key consignee.pem", (0,)),
    ("provenance attest end-use end-use.yaml --key end-user.pem", (0,)),
    ("provenance attest inspection visit.yaml --nvidia-smi node07.xml --key auditor.pem", (0,)),
    ("provenance license issue license.yaml --key regulator.pem", (0,)),
    ("provenance license list --valid-on 2026-10-02", (0,)),
    ("provenance chip 1654923000101", (0,)),
    ("provenance ledger export --chip 1654923000101 -o chip.json", (0,)),
    ("provenance shipment show MX-2026-0042", (0,)),
    (
        "provenance shipment list --exporter meridian-exports --destination SG --from 2026-01-01",
        (0,),
    ),
    # the rules engine
    ("provenance check MX-2026-0042 --explain", (0, 1, 6)),
    ("provenance check --all --dry-run", (0, 1, 6)),
    ("provenance classify --product nvidia-h20", (0,)),
    ("provenance classify --tpp 4000 --die-area 600 --date 2023-12-01", (0,)),
    ("provenance rules list", (0,)),
    ("provenance rules show ear-2026-01", (0,)),
    ("provenance rules facts", (0,)),
    ("provenance rules test", (0,)),
    ("provenance flag list --open --severity high", (0,)),
    (
        'provenance flag resolve F-35-0 --status confirmed --reason "..." --key regulator.pem',
        (0,),
    ),
    # screening
    ("provenance screening import consolidated.csv --key keys/operator.pem", (0,)),
    ("provenance screening list", (0,)),
    ('provenance screen "Lotus Star Technology Trading" --country HK', (1,)),
    # reports
    ("provenance report regulator --period 2026-Q4 --format html -o q4.html", (0,)),
    ("provenance report regulator --from 2026-10-01 --to 2026-12-31 --json > q4.json", (0,)),
    (
        "provenance report regulator --period 2026-Q4 --sign regulator.pem --append"
        " -o q4.signed.json",
        (0,),
    ),
    ("provenance report verify q4.signed.json", (0,)),
    ("provenance report exporter --party meridian-exports --period 2026", (0,)),
    ("provenance report chip 1654923000101", (0,)),
    ("provenance report shipment MX-2026-0042 --format md", (0,)),
    ("provenance report schema", (0,)),
    # the ledger as a service
    ("provenance ledger publish ./static", (0,)),
]

NOT_RUN = {
    "python3 -m venv .venv && .venv/bin/pip install -q . && .venv/bin/provenance demo --fresh": (
        "installs the package; the demo is tests/test_demo.py"
    ),
    "python3 -m venv .venv && .venv/bin/pip install -q -e '.[test]' && "
    ".venv/bin/python -m pytest -q": "the test suite itself",
    "provenance serve --db postgresql://ledger@db/ledger --checkpoint-key "
    "/etc/provenance/ledger.pem --operator-key /etc/provenance/operator.pem --workers 2": (
        "a PostgreSQL service on port 8080: tests/service run the server"
    ),
    "curl http://127.0.0.1:8080/checkpoint": "the service: tests/service/test_app.py",
    "provenance shipment register shipment.yaml --key exporter.pem --ledger "
    "http://127.0.0.1:8080": "the service: tests/commands/test_remote.py",
    "provenance chip 1654923000101 --key auditor.pem --ledger http://127.0.0.1:8080": (
        "the service: tests/commands/test_remote.py"
    ),
    "provenance status --key auditor.pem --ledger http://127.0.0.1:8080": (
        "the service: tests/commands/test_remote.py"
    ),
    "provenance mirror http://127.0.0.1:8080 --db replica.db --key regulator.pem": (
        "the service: tests/remote/test_mirror.py"
    ),
    "provenance demo --service": "tests/service/test_demo.py",
}
"""README commands not run here (by their text as `commands` gives it), and why."""


def readme_commands() -> list[str]:
    found = []
    for block in fenced(README.read_text(encoding="utf-8"), "sh"):
        found += commands(block)
    return found


def test_every_readme_command_is_run_or_said_why_not() -> None:
    in_readme = readme_commands()
    run = [command for command, _ in README_RUN if command != SETUP]
    bench = {c for c in in_readme if c.startswith(".venv/bin/python bench/")}
    listed = set(run) | set(NOT_RUN) | bench
    assert sorted(set(in_readme) - listed) == [], "README commands that no test runs"
    assert sorted(listed - set(in_readme)) == [], "listed here but not in the README"
    assert all(Path(ROOT, c.split()[1]).exists() for c in bench)


@pytest.mark.slow
def test_the_readme_commands_run_in_order(tmp_path: Path) -> None:
    setups = iter(
        [
            f"cat > acme.yaml <<'EOF'\n{readme_yaml('A party file is YAML').rstrip()}\nEOF",
            statements_setup(),
            parties_setup() + "\n" + custody_setup(),
        ]
    )
    steps = []
    for command, codes in README_RUN:
        if command == SETUP:
            steps.append(next(setups))
            continue
        allowed = " ".join(map(str, codes))
        steps.append(
            f"set +e; {command}; rc=$?; set -e\n"
            f'case " {allowed} " in *" $rc "*) ;; *) echo "README command failed (exit $rc): '
            f'{command.replace(chr(39), "")}" >&2; exit 99;; esac'
        )
    result = shell("\n".join(steps), tmp_path, timeout=1800)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "internal error" not in result.stderr
    assert "Traceback" not in result.stderr
    assert "appended entry" in result.stdout
