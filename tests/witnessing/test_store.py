"""The witness's state on both databases: a compare-and-swap that never rolls back."""

from __future__ import annotations

import threading

from provenance.witnessing.store import WitnessStore


def test_advance_is_a_compare_and_swap(db_url: str) -> None:
    store = WitnessStore(db_url)
    try:
        assert store.latest("log.example") is None
        assert store.advance("log.example", None, 5, b"a" * 32, "note 5")
        assert not store.advance("log.example", None, 7, b"b" * 32, "note 7")  # not the first
        five = store.latest("log.example")
        assert five is not None and (five.size, five.root, five.note) == (5, b"a" * 32, "note 5")
        assert store.advance("log.example", five, 9, b"c" * 32, "note 9")
        assert not store.advance("log.example", five, 6, b"d" * 32, "note 6")  # stale: refused
        nine = store.latest("log.example")
        assert nine is not None and nine.size == 9

        won: list[int] = []

        def race(size: int) -> None:
            if store.advance("log.example", nine, size, bytes([size]) * 32, f"note {size}"):
                won.append(size)

        threads = [threading.Thread(target=race, args=(s,)) for s in range(10, 26)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(won) == 1
        final = store.latest("log.example")
        assert final is not None and final.size == won[0]
        # Evidence of refused checkpoints, in order, per log; it moves no state.
        store.record_refusal("log.example", 9, 9, "forked note", "two different roots")
        store.record_refusal("log.example", 9, 12, "bad proof note", "proof too short")
        assert store.refusals("log.example") == [
            (9, 9, "forked note", "two different roots"),
            (9, 12, "bad proof note", "proof too short"),
        ]
        assert store.refusals("other.example") == []
        # Another log's row is its own.
        assert store.advance("other.example", None, 1, b"e" * 32, "other")
        assert store.latest("log.example") == final
    finally:
        store.close()
