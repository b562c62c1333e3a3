"""C2SP signed notes and checkpoints, with Go's public test vector."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provenance.crypto import keys
from provenance.errors import InputError, IntegrityError
from provenance.tlog import note

# golang.org/x/mod/sumdb/note, note_test.go
VERIFIER = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
SIGNER = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
SIGNATURE_LINE = "— PeterNeumann " + (
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def test_signing_reproduces_the_go_signature_line_exactly() -> None:
    signed = note.sign(TEXT, SIGNER)
    assert signed == TEXT + "\n" + SIGNATURE_LINE


def test_signer_and_verifier_strings_round_trip() -> None:
    assert str(note.Signer.parse(SIGNER)) == SIGNER
    assert str(note.Verifier.parse(VERIFIER)) == VERIFIER
    assert str(note.Signer.parse(SIGNER).verifier()) == VERIFIER


def test_open_returns_the_text() -> None:
    assert note.open(TEXT + "\n" + SIGNATURE_LINE, [VERIFIER]) == TEXT


def test_unknown_signers_are_ignored_but_one_known_must_verify() -> None:
    other_signer, _other_verifier = note.generate("someone-else")
    both = note.sign(TEXT, other_signer) + SIGNATURE_LINE
    assert note.open(both, [VERIFIER]) == TEXT
    with pytest.raises(IntegrityError, match="no signature by a known key"):
        note.open(note.sign(TEXT, other_signer), [VERIFIER])


@pytest.mark.parametrize(
    "tamper",
    [
        lambda n: n.replace("problem,", "problem;"),
        lambda n: n.replace("x08go", "x08gp"),
        lambda n: n.replace("\n\n", "\n"),
        lambda n: n[:-1],
        lambda n: n.replace("— ", "- "),
    ],
)
def test_altered_notes_are_refused(tamper: object) -> None:
    signed = TEXT + "\n" + SIGNATURE_LINE
    assert callable(tamper)
    with pytest.raises(IntegrityError):
        note.open(tamper(signed), [VERIFIER])


def test_generated_keys_have_go_formats() -> None:
    signer, verifier = note.generate("example.com/log")
    assert signer.startswith("PRIVATE+KEY+example.com/log+")
    parsed = note.Verifier.parse(verifier)
    assert parsed.name == "example.com/log"
    assert note.open(note.sign("hello\n", signer), [verifier]) == "hello\n"


def test_signing_key_becomes_a_note_signer() -> None:
    key = keys.generate("ed25519")
    signer = note.Signer.from_signing_key("ledger.example", key)
    verifier = str(signer.verifier())
    assert note.open(note.sign("x\n", signer), [verifier]) == "x\n"
    with pytest.raises(InputError):
        note.Signer.from_signing_key("ledger.example", keys.generate("p256"))


@pytest.mark.parametrize(
    "bad",
    [
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # wrong hash
        "PeterNeumann+c74f20a3+AhZc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # wrong type
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3",
        "",
    ],
)
def test_malformed_verifier_keys_are_input_errors(bad: str) -> None:
    with pytest.raises(InputError):
        note.Verifier.parse(bad)


@pytest.mark.parametrize("text", ["no newline", "blank\n\nline\n", "bell\x07\n"])
def test_text_that_cannot_be_a_note_is_refused(text: str) -> None:
    with pytest.raises(InputError):
        note.sign(text, SIGNER)


def test_checkpoint_body_round_trips() -> None:
    cp = note.Checkpoint("example.com/log", 42, bytes(range(32)))
    assert cp.body() == "example.com/log\n42\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"
    signed = note.sign(cp.body(), SIGNER)
    assert note.open_checkpoint(signed, [VERIFIER]) == cp


@pytest.mark.parametrize(
    "body",
    [
        "origin\n01\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
        "origin\n-1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
        "origin\n1\nAAEC\n",
        "origin\n1\n",
    ],
)
def test_malformed_checkpoints_are_refused(body: str) -> None:
    with pytest.raises(IntegrityError):
        note.Checkpoint.parse(body)


@given(st.text())
def test_split_never_raises_anything_but_integrity_error(text: str) -> None:
    with contextlib.suppress(IntegrityError):
        note.split(text)
