"""Start-up time of the command line, against `python -c "import click"` in the same run.

    python bench/startup.py [--runs 10]

Each command runs as its own process (as a user runs it) `--runs` times; the figure is
the median wall time. The limit is the same interpreter importing click and nothing
else. Targets: `provenance --help` at most 4x the limit, `provenance ledger checkpoint`
on a small ledger at most 8x. Prints the times, the ratios, and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGETS = {"help": 4.0, "checkpoint": 8.0}


def median_seconds(argv: list[str], runs: int, cwd: Path) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    python = sys.executable
    provenance = [python, "-m", "provenance"]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        subprocess.run(
            [*provenance, "init", "--origin", "bench.example/ledger", "--keys", "keys"],
            cwd=work,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        limit = median_seconds([python, "-c", "import click"], args.runs, work)
        figures = {
            "help": median_seconds([*provenance, "--help"], args.runs, work),
            "checkpoint": median_seconds([*provenance, "ledger", "checkpoint"], args.runs, work),
        }
    print(f"limit: python -c 'import click'  {limit * 1000:7.1f} ms (median of {args.runs})")
    result: dict[str, object] = {"runs": args.runs, "limit_ms": round(limit * 1000, 1)}
    for name, seconds in figures.items():
        ratio = seconds / limit
        verdict = "met" if ratio <= TARGETS[name] else "MISSED"
        print(
            f"{name:<11} {seconds * 1000:7.1f} ms  {ratio:5.2f} x limit "
            f"(target <= {TARGETS[name]:g} x: {verdict})"
        )
        result[f"{name}_ms"] = round(seconds * 1000, 1)
        result[f"{name}_ratio"] = round(ratio, 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
