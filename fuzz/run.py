"""Fuzz one parser: `python fuzz/run.py --parser NAME --runs N` (`--list` names them).

With atheris installed (`pip install atheris`), the parser runs under libFuzzer with
coverage feedback, from the target's seeds; without it, under a plain random-mutation
driver (seeds mutated by byte flips, insertions, deletions, splices and known-bad tokens:
huge integers, deep nesting, non-ASCII digits), which is weaker and says so in its output.
Either way an input counts as handled when the parser returns or raises the library's
own error (exit 2 to 5); any other exception is an internal error (exit 70): its input is
saved under fuzz/crashes/ and the run exits 1. The last line printed is a JSON summary.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from fuzz.targets import TARGETS, TOKENS, Target, check  # noqa: E402

CRASHES = HERE / "crashes"


def mutate(rng: random.Random, seeds: list[bytes]) -> bytes:
    data = bytearray(rng.choice(seeds))
    for _ in range(rng.randint(1, 8)):
        op = rng.randrange(6)
        at = rng.randint(0, len(data))
        if op == 0 and data:  # flip a byte
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        elif op == 1:  # insert random bytes
            data[at:at] = os.urandom(rng.randint(1, 8))
        elif op == 2 and data:  # delete a run
            del data[at : at + rng.randint(1, 32)]
        elif op == 3:  # a known-bad token
            data[at:at] = rng.choice(TOKENS)
        elif op == 4:  # splice another seed
            other = rng.choice(seeds)
            cut = rng.randint(0, len(other))
            data[at:] = other[cut:]
        elif op == 5 and data:  # truncate
            del data[at:]
    return bytes(data)


def save_crash(target: Target, data: bytes) -> Path:
    CRASHES.mkdir(exist_ok=True)
    path = CRASHES / f"{target.name}-{hashlib.sha256(data).hexdigest()[:16]}.bin"
    path.write_bytes(data)
    return path


def run_random(target: Target, runs: int, seed: int) -> dict[str, object]:
    rng = random.Random(seed)
    seeds = target.seeds() or [b""]
    errors = 0
    started = time.monotonic()
    for i in range(runs):
        data = seeds[i] if i < len(seeds) else mutate(rng, seeds)
        try:
            check(target, data)
        except Exception:
            errors += 1
            path = save_crash(target, data)
            print(f"internal error on input {path}:", file=sys.stderr)
            traceback.print_exc()
    return {
        "parser": target.name,
        "engine": "random-mutation (no coverage feedback)",
        "runs": runs,
        "internal_errors": errors,
        "seconds": round(time.monotonic() - started, 1),
    }


def atheris_child(target: Target, runs: int, seed: int, corpus: str) -> None:
    import atheris

    with atheris.instrument_imports():
        import provenance  # noqa: F401

        for data in target.seeds():  # imports every module the parser uses, instrumented
            check(target, data)

    def one(data: bytes) -> None:
        check(target, data)

    CRASHES.mkdir(exist_ok=True)
    atheris.Setup(
        [
            sys.argv[0],
            f"-runs={runs}",
            f"-seed={seed}",
            "-timeout=20",
            "-rss_limit_mb=2048",
            "-max_len=65536",
            f"-artifact_prefix={CRASHES}/{target.name}-",
            "-print_final_stats=1",
            corpus,
        ],
        one,
    )
    atheris.Fuzz()


def run_atheris(target: Target, runs: int, seed: int) -> dict[str, object]:
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as corpus:
        for i, data in enumerate(target.seeds()):
            Path(corpus, f"seed-{i}").write_bytes(data)
        child = subprocess.run(
            [
                sys.executable,
                __file__,
                "--parser",
                target.name,
                "--runs",
                str(runs),
                "--seed",
                str(seed),
                "--atheris-child",
                corpus,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    log = child.stderr
    done = re.search(r"Done (\d+) runs", log)
    executed = re.search(r"stat::number_of_executed_units: (\d+)", log)
    ran = int(executed.group(1)) if executed else int(done.group(1)) if done else 0
    failed = child.returncode != 0
    if failed:
        sys.stderr.write(log[-6000:])
    return {
        "parser": target.name,
        "engine": "atheris (libFuzzer, coverage-guided)",
        "runs": ran,
        "internal_errors": 1 if failed else 0,
        "seconds": round(time.monotonic() - started, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parser", choices=sorted(TARGETS))
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--engine", choices=["auto", "atheris", "random"], default="auto")
    parser.add_argument("--list", action="store_true", help="List the parsers and exit.")
    parser.add_argument("--atheris-child", metavar="CORPUS", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.list:
        for name, target in sorted(TARGETS.items()):
            print(f"{name:<16} {target.about}")
        return 0
    if args.parser is None:
        parser.error("--parser is required (see --list)")
    target = TARGETS[args.parser]
    if args.atheris_child:
        atheris_child(target, args.runs, args.seed, args.atheris_child)
        return 0
    engine = args.engine
    if engine == "auto":
        try:
            import atheris  # noqa: F401

            engine = "atheris"
        except ImportError:
            engine = "random"
    if engine == "atheris":
        summary = run_atheris(target, args.runs, args.seed)
    else:
        summary = run_random(target, args.runs, args.seed)
    print(json.dumps(summary))
    return 1 if summary["internal_errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
