"""Every parser of outside input under hypothesis (issue 18 item 5): whatever bytes come
in, the parser returns or raises the library's own error (exit 2 to 5), never anything
else (exit 70). The parsers and their seeds are `fuzz/targets.py`, which `fuzz/run.py`
drives under atheris for longer runs; docs/testing.md has the figures."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz.targets import TARGETS, TOKENS, Target, check

EXAMPLES = 100
"""Inputs per parser in the suite: mutations of valid seeds, and arbitrary bytes."""


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["flip", "insert", "token", "delete", "truncate"]))
        if op == "flip" and data:
            i = draw(st.integers(0, len(data) - 1))
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "token":
            data[at:at] = draw(st.sampled_from(TOKENS))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 32))]
        elif op == "truncate":
            del data[at:]
    return bytes(data)


def inputs(target: Target) -> st.SearchStrategy[bytes]:
    seeds = target.seeds()
    if not seeds:
        return st.binary(max_size=2048)
    return st.one_of(
        mutated(seeds), st.binary(max_size=512), st.sampled_from(seeds), st.sampled_from(TOKENS)
    )


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_every_input_parses_or_is_refused_by_the_library(name: str) -> None:
    target = TARGETS[name]
    assert target.seeds(), f"{name} has no seeds"
    for seed in target.seeds():
        target.run(seed)  # the seeds are valid: they parse

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(inputs(target))
    def fuzz(data: bytes) -> None:
        check(target, data)  # raises on anything but a ProvenanceError

    fuzz()
