"""C2SP tlog-policy: the spec's example, every rule of the syntax, quorums evaluated."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provenance.errors import InputError, IntegrityError
from provenance.tlog import cosignature, note, policy

LOG_SIGNER, LOG_VKEY = note.generate("example.com/log")
KEYS = {
    name: cosignature.generate(f"w.example/{name}") for name in ("X1", "X2", "X3", "Y1", "Y2", "Y3")
}
BODY = note.Checkpoint("example.com/log", 7, bytes(32)).body()


def spec_example() -> str:
    # The example of the spec, with keys.
    lines = [f"log {LOG_VKEY}", ""]
    lines += [f"witness {n} {KEYS[n][1]}" for n in ("X1", "X2", "X3")]
    lines += ["group X-witnesses 2 X1 X2 X3", ""]
    lines += [f"witness {n} {KEYS[n][1]}" for n in ("Y1", "Y2", "Y3")]
    lines += ["group Y-witnesses any Y1 Y2 Y3", "", "group X-and-Y all X-witnesses Y-witnesses"]
    lines += ["quorum X-and-Y", ""]
    return "\n".join(lines)


def cosigned(*names: str) -> str:
    signed = note.sign(BODY, LOG_SIGNER)
    for name in names:
        signed += cosignature.Cosigner.parse(KEYS[name][0]).signature_line(BODY, 1700000000)
    return signed


def test_the_spec_example() -> None:
    parsed = policy.parse(spec_example())
    assert parsed.quorum == "X-and-Y"
    assert parsed.groups["X-witnesses"] == policy.Group(2, ("X1", "X2", "X3"))
    assert parsed.groups["Y-witnesses"].threshold == 1
    assert parsed.groups["X-and-Y"].threshold == 2
    assert parsed.met_by({"X1", "X3", "Y2"})
    assert not parsed.met_by({"X1", "Y1", "Y2", "Y3"})
    assert not parsed.met_by({"X1", "X2", "X3"})
    assert parsed.check(cosigned("X2", "X3", "Y1")) == {"X2", "X3", "Y1"}
    with pytest.raises(IntegrityError, match="quorum"):
        parsed.check(cosigned("X2", "Y1"))


def test_a_checkpoint_not_signed_by_a_listed_log_is_refused() -> None:
    parsed = policy.parse(spec_example())
    other, _ = note.generate("example.com/log")
    forged = note.sign(BODY, other) + cosignature.Cosigner.parse(KEYS["X1"][0]).signature_line(
        BODY, 1
    )
    with pytest.raises(IntegrityError):
        parsed.check(forged)


def test_quorum_none_comments_tabs_urls() -> None:
    text = f"# a comment\n  \t\nlog\t{LOG_VKEY}  https://log.example/\n   # indented\nquorum none\n"
    parsed = policy.parse(text)
    assert parsed.logs[0][1] == "https://log.example/"
    assert parsed.met_by(set())
    one = policy.parse(f"witness A {KEYS['X1'][1]} http://127.0.0.1:1/\nquorum A\n")
    assert one.witnesses["A"].url == "http://127.0.0.1:1/"
    assert one.met_by({"A"}) and not one.met_by(set())


MALFORMED = [
    ("", "no quorum"),
    ("quorum none\nquorum none\n", "second quorum"),
    ("quorum A\n", "not a witness or group"),
    (f"group G any A\nwitness A {KEYS['X1'][1]}\nquorum G\n", "not a witness or group"),
    (f"witness A {KEYS['X1'][1]}\ngroup G 2 A\nquorum G\n", "threshold"),
    (f"witness A {KEYS['X1'][1]}\ngroup G 0 A\nquorum G\n", "threshold"),
    (f"witness A {KEYS['X1'][1]}\ngroup G 01 A\nquorum G\n", "threshold"),
    (f"witness A {KEYS['X1'][1]}\ngroup G any A A\nquorum G\n", "twice"),
    (f"witness A {KEYS['X1'][1]}\ngroup G any none\nquorum G\n", "not a witness"),
    (f"witness A {KEYS['X1'][1]}\nwitness A {KEYS['X2'][1]}\nquorum A\n", "defined already"),
    (f"witness A {KEYS['X1'][1]}\nwitness B {KEYS['X1'][1]}\nquorum A\n", "duplicate"),
    (f"witness A {LOG_VKEY}\nquorum A\n", "0x04"),
    (f"log {KEYS['X1'][1]}\nquorum none\n", "not an Ed25519 note key"),
    (f"log {LOG_VKEY}\nlog {LOG_VKEY}\nquorum none\n", "duplicate log"),
    ("witness none x\nquorum none\n", "defined already"),
    ("frobnicate\nquorum none\n", "unknown keyword"),
    ("quorum none\x0c\n", "control characters"),
]


# ids by the reason: the texts hold keys generated at import, which differ between
# xdist workers
@pytest.mark.parametrize(("text", "why"), MALFORMED, ids=[why for _, why in MALFORMED])
def test_malformed_policies_are_refused(text: str, why: str) -> None:
    with pytest.raises(InputError, match=why):
        policy.parse(text)


@given(st.binary(max_size=300))
def test_any_bytes_parse_or_are_refused(data: bytes) -> None:
    with contextlib.suppress(InputError):
        policy.parse(data)


@given(st.sets(st.sampled_from(["X1", "X2", "X3", "Y1", "Y2", "Y3"])))
def test_the_quorum_is_the_groups_rule(cosigners: set[str]) -> None:
    parsed = policy.parse(spec_example())
    xs = len(cosigners & {"X1", "X2", "X3"})
    ys = len(cosigners & {"Y1", "Y2", "Y3"})
    assert parsed.met_by(cosigners) == (xs >= 2 and ys >= 1)
