"""`provenance serve` in a real uvicorn process, on SQLite and PostgreSQL: the write API,
the public tiles, signed reads under the read policy, problems for every refusal."""

from __future__ import annotations

import base64
import concurrent.futures
import json
from pathlib import Path

import httpx
import pytest

from provenance.crypto import keys
from provenance.crypto.envelope import Envelope
from provenance.errors import AuthorizationError
from provenance.ledger.audit import audit
from provenance.ledger.log import Ledger
from provenance.offline.entries import ParsedEntry, leaf_bytes
from provenance.remote import signing
from provenance.statements import kinds
from provenance.statements.signing import sign
from provenance.tlog import merkle, tiles
from tests.conftest import World
from tests.service.conftest import Parties, Server, signed_get


def post(server: Server, envelope: Envelope | bytes) -> httpx.Response:
    body = envelope if isinstance(envelope, bytes) else json.dumps(envelope.to_json()).encode()
    return httpx.post(server.url + "/v1/entries", content=body, timeout=30)


def problem(response: httpx.Response) -> dict[str, object]:
    assert response.headers["content-type"] == "application/problem+json"
    value = response.json()
    assert {"type", "title", "status", "detail"} <= value.keys()
    assert value["status"] == response.status_code
    assert isinstance(value, dict)
    return value


def test_an_entry_appended_over_http_is_the_leaf_a_local_append_writes(
    server: Server, parties: Parties, world: World
) -> None:
    envelope = parties.shipment("SH-HTTP")
    response = post(server, envelope)
    assert response.status_code == 201, response.text
    answer = response.json()
    seq = answer["entry"]["seq"]
    assert answer["entry"]["kind"] == "shipment" and not answer["entry"]["duplicate"]
    stored = world.ledger.entry(seq)
    # the leaf the server wrote is exactly what `Ledger.append` writes for this envelope
    assert stored.leaf == leaf_bytes(seq, stored.integrated_at, envelope)
    assert stored.envelope == envelope
    # and the receipt proves it against the key the ledger publishes
    from provenance.offline.receipts import verify_receipt

    verified = verify_receipt(answer["receipt"], [world.ledger.verifier_key])
    assert verified.entry.leaf == stored.leaf
    # a local append of the next envelope takes the next number in the same tree
    local, _ = world.ledger.append(parties.shipment("SH-LOCAL"))
    assert local.seq == seq + 1


def test_the_same_envelope_twice_answers_200_with_the_first_entry(
    server: Server, parties: Parties, world: World
) -> None:
    envelope = parties.shipment("SH-TWICE")
    first = post(server, envelope)
    size = world.ledger.size()
    again = post(server, envelope)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["entry"]["seq"] == first.json()["entry"]["seq"]
    assert again.json()["entry"]["duplicate"] is True
    assert world.ledger.size() == size


def test_refusals_are_problems_and_write_nothing(
    server: Server, parties: Parties, world: World
) -> None:
    size = world.ledger.size()
    bad_json = post(server, b"{not json")
    assert bad_json.status_code == 400 and problem(bad_json)["exit_code"] == 2
    not_envelope = post(server, b'{"payload": 1}')
    assert not_envelope.status_code == 400
    # signed by an exporter that is not the shipment's exporter: unauthorised signer
    forged = world.envelope(_shipment_document("SH-X"), parties.keys["rival"])
    unauthorised = post(server, forged)
    assert unauthorised.status_code == 403, unauthorised.text
    assert problem(unauthorised)["exit_code"] == 3
    # a bad signature
    envelope = parties.shipment("SH-SIG")
    broken = Envelope(
        envelope.payload_type,
        envelope.payload,
        tuple(type(s)(s.keyid, bytes([s.sig[0] ^ 1]) + s.sig[1:]) for s in envelope.signatures),
    )
    assert post(server, broken).status_code == 403
    # a contradiction with the ledger: a shipment naming a party that does not exist
    document = _shipment_document("SH-GHOST")
    document["consignee"] = "nobody"
    invalid = post(server, world.envelope(document, parties.keys["meridian"]))
    assert invalid.status_code == 422, invalid.text
    assert problem(invalid)["exit_code"] == 2
    assert world.ledger.size() == size


def _shipment_document(shipment_id: str) -> dict[str, object]:
    from tests.ledger.test_custody import SERIALS, shipment_doc

    return shipment_doc(shipment_id, SERIALS[:8])


def test_concurrent_submissions_share_batches_and_each_is_appended_once(
    server: Server, parties: Parties, world: World
) -> None:
    envelopes = [
        world.envelope(
            {
                "kind": "party",
                "id": f"p{i}",
                "name": f"Party {i}",
                "roles": ["consignee"],
                "country": "SG",
                "headquarters": "SG",
                "keys": [],
            },
            world.operator,
        )
        for i in range(40)
    ]
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda e: post(server, e), envelopes))
    assert {a.status_code for a in answers} == {201}
    seqs = sorted(a.json()["entry"]["seq"] for a in answers)
    assert len(set(seqs)) == 40
    metrics = httpx.get(server.url + "/metrics").text
    assert "provenance_batch_size_bucket" in metrics
    assert "provenance_appends_total" in metrics
    # fewer checkpoints than entries: they were grouped
    checkpoints = {a.json()["checkpoint"] for a in answers}
    assert len(checkpoints) < 40
    assert audit(world.ledger).entries == world.ledger.size()


def test_the_tiles_are_the_tree_and_rebuild_its_root(server: Server, world: World) -> None:
    checkpoint = httpx.get(server.url + "/checkpoint")
    assert checkpoint.headers["content-type"] == "text/plain; charset=utf-8"
    assert "max-age=2" in checkpoint.headers["cache-control"]
    size = world.ledger.size()
    assert checkpoint.text == world.ledger.checkpoint().note

    def fetch(tile: tiles.Tile) -> list[bytes]:
        response = httpx.get(f"{server.url}/{tile.path()}")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/octet-stream"
        assert "immutable" in response.headers["cache-control"]
        return tiles.hashes_of(response.content, tile)

    assert tiles.root_from_tiles(size, fetch) == world.ledger.root(size)
    level0 = fetch(tiles.Tile(0, 0, size))
    assert level0 == [merkle.leaf_hash(world.ledger.entry(i).leaf) for i in range(size)]
    # a wider tile than the tree has is not served; nor an empty one
    assert httpx.get(f"{server.url}/tile/0/000.p/{size + 1}").status_code == 404
    assert httpx.get(f"{server.url}/tile/0/000").status_code == 404
    assert httpx.get(f"{server.url}/tile/1/000.p/1").status_code == 404


def test_proofs_are_public(server: Server, world: World) -> None:
    size = world.ledger.size()
    answer = httpx.get(f"{server.url}/v1/proofs/inclusion/3").json()
    proof = [base64.b64decode(h) for h in answer["proof"]]
    merkle.verify_inclusion(
        merkle.leaf_hash(world.ledger.entry(3).leaf), 3, size, proof, world.ledger.root(size)
    )
    some_checkpoint = world.ledger.checkpoint().checkpoint.size
    first = 1  # genesis checkpoint
    consistency = httpx.get(
        f"{server.url}/v1/proofs/consistency", params={"old": first, "new": some_checkpoint}
    ).json()
    merkle.verify_consistency(
        first,
        some_checkpoint,
        [base64.b64decode(h) for h in consistency["proof"]],
        world.ledger.root(first),
        world.ledger.root(some_checkpoint),
    )
    assert httpx.get(f"{server.url}/v1/proofs/inclusion/{size}").status_code == 404
    assert httpx.get(f"{server.url}/v1/proofs/inclusion/x").status_code == 404


def test_reading_entries_needs_a_signed_request_by_a_registered_unrevoked_key(
    server: Server, parties: Parties, world: World, tmp_path: Path
) -> None:
    appended, _ = world.ledger.append(parties.shipment("SH-READ"))
    seq = appended.seq
    unsigned = httpx.get(f"{server.url}/v1/entries/{seq}")
    assert unsigned.status_code == 401 and problem(unsigned)["exit_code"] == 3
    assert "accept-signature" in unsigned.headers
    mine = signed_get(server.url, f"/v1/entries/{seq}", parties.keys["meridian"])
    assert mine.status_code == 200, mine.text
    assert base64.b64decode(mine.json()["leaf"]) == world.ledger.entry(seq).leaf
    # a stranger's key: not registered
    stranger = signed_get(server.url, f"/v1/entries/{seq}", keys.generate())
    assert stranger.status_code == 403
    # a signature by one key claiming another's keyid
    request = httpx.Request("GET", f"{server.url}/v1/entries/{seq}")
    impostor = keys.generate()
    signing.sign_request(request, impostor)
    request.headers["signature-input"] = request.headers["signature-input"].replace(
        impostor.keyid, parties.keys["meridian"].keyid
    )
    assert httpx.Client().send(request).status_code == 401
    # a request signed for another path
    request = httpx.Request("GET", f"{server.url}/v1/entries/0")
    signing.sign_request(request, parties.keys["meridian"])
    moved = httpx.Request("GET", f"{server.url}/v1/entries/{seq}", headers=request.headers)
    assert httpx.Client().send(moved).status_code == 401
    # a revoked key is refused
    world.append(
        {"kind": "key-revocation", "key": parties.keys["rival"].keyid, "reason": "lost"},
        world.operator,
    )
    revoked = signed_get(server.url, "/v1/entries/0", parties.keys["rival"])
    assert revoked.status_code == 403 and "revoked" in revoked.json()["detail"]


def test_the_read_policy_party_by_party(server: Server, parties: Parties, world: World) -> None:
    shipped, _ = world.ledger.append(parties.shipment("SH-MINE"))
    theirs, _ = world.ledger.append(
        world.envelope(
            {**_shipment_document("SH-THEIRS"), "exporter": "rival"}, parties.keys["rival"]
        )
    )
    seq, other = shipped.seq, theirs.seq
    cases = {
        "meridian": {seq},  # its own shipment
        "lion": {seq, other},  # the consignee of both
        "rival": {other},
        "straits": {seq, other},  # an auditor reads everything
        "bis": {seq, other},
        "operator": {seq, other},
        "nvidia": {seq, other},  # the manufacturer: custody of its serials
    }
    for party, readable in cases.items():
        for entry in (seq, other):
            answer = signed_get(server.url, f"/v1/entries/{entry}", parties.keys[party])
            expected = 200 if entry in readable else 403
            assert answer.status_code == expected, (party, entry, answer.text)
        status = signed_get(server.url, "/v1/status", parties.keys[party])
        assert status.status_code == 200 and status.json()["party"] == party
    assert httpx.get(f"{server.url}/v1/status").status_code == 401
    assert signed_get(server.url, "/v1/shipments/SH-MINE", parties.keys["rival"]).status_code == 403
    mine = signed_get(server.url, "/v1/shipments/SH-MINE", parties.keys["meridian"])
    assert mine.status_code == 200 and mine.json()["id"] == "SH-MINE"
    assert signed_get(server.url, "/v1/shipments/SH-MINE", parties.keys["bis"]).status_code == 200
    # a page of entries holds only what the reader may read
    page = signed_get(server.url, "/v1/entries", parties.keys["rival"], **{"from": 0})
    assert {e["seq"] for e in page.json()["entries"]} >= {other}
    assert seq not in {e["seq"] for e in page.json()["entries"]}
    assert page.json()["complete"] is False
    # entry bundles hold contents: auditors and regulators only
    bundle = tiles.Tile(0, 0, world.ledger.size(), entries=True)
    assert signed_get(server.url, "/" + bundle.path(), parties.keys["meridian"]).status_code == 403
    full = signed_get(server.url, "/" + bundle.path(), parties.keys["straits"])
    assert full.status_code == 200
    leaves = tiles.decode_bundle(full.content, bundle.width)
    assert leaves == [world.ledger.entry(i).leaf for i in range(bundle.width)]
    # the chip: its manufacturer sees its history; a stranger to it does not
    chip = signed_get(server.url, "/v1/chips/1654923000000", parties.keys["nvidia"])
    assert chip.status_code == 200 and chip.json()["history"]


def test_an_entry_too_large_for_a_bundle_is_served_only_alone(
    server: Server, parties: Parties, world: World
) -> None:
    big = sign(
        kinds.from_document(
            {
                "kind": "report",
                "report": {"kind": "bulk", "rows": ["x" * 1000 for _ in range(70)]},
            }
        ),
        [world.operator],
    )
    appended, _ = world.ledger.append(big)
    assert len(world.ledger.entry(appended.seq).leaf) > tiles.MAX_BUNDLE_ENTRY
    size = world.ledger.size()
    bundle = tiles.Tile(0, 0, size, entries=True)
    refused = signed_get(server.url, "/" + bundle.path(), parties.keys["bis"])
    assert refused.status_code == 422
    assert f"/v1/entries/{appended.seq}" in refused.json()["detail"]
    alone = signed_get(server.url, f"/v1/entries/{appended.seq}", parties.keys["bis"])
    assert alone.status_code == 200
    assert ParsedEntry.from_leaf(base64.b64decode(alone.json()["leaf"])).kind == "report"


def test_a_misconfigured_key_stops_the_service_before_it_serves(
    world: World, tmp_path: Path
) -> None:
    key = tmp_path / "keys" / "ledger.pem"
    key.chmod(0o644)
    server = Server(world.db, key, tmp_path)
    with pytest.raises(RuntimeError, match="readable by others"):
        server.start()
    key.chmod(0o600)
    other = tmp_path / "other.pem"
    keys.save_private(other, keys.generate())
    with pytest.raises(RuntimeError, match="not this ledger's checkpoint key"):
        Server(world.db, other, tmp_path).start()


def test_the_access_log_is_json_lines(server: Server, world: World, tmp_path: Path) -> None:
    httpx.get(server.url + "/checkpoint")
    httpx.get(server.url + "/v1/entries/0")
    server.stop()
    lines = (tmp_path / f"access-{server.port}.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert {"time", "method", "path", "status", "ms"} <= records[0].keys()
    assert any(r["path"] == "/v1/entries/0" and r["status"] == 401 for r in records)


def test_a_mirror_key_must_read_everything(
    server: Server, client_for: object, tmp_path: Path
) -> None:
    from provenance.remote.mirror import mirror

    remote = client_for("meridian")  # type: ignore[operator]
    with pytest.raises(AuthorizationError, match="mirror needs"):
        mirror(remote, f"sqlite:///{tmp_path / 'replica.db'}")


def test_a_server_shown_another_history_is_a_split_view(
    server: Server, parties: Parties, world: World, client_for: object, tmp_path: Path
) -> None:
    from provenance.ledger.setup import initialise
    from provenance.remote.client import SplitView

    # a second ledger with the same origin and the same checkpoint key: another history
    other_db = f"sqlite:///{tmp_path / 'fork.db'}"
    fork = initialise(
        other_db, origin="test.example/ledger", keys_dir=tmp_path / "keys", with_catalog=False
    )
    fork.ledger.close()
    forked = Server(other_db, tmp_path / "keys" / "ledger.pem", tmp_path).start()
    try:
        client = client_for("meridian")  # type: ignore[operator]
        client.checkpoint()  # seen: the real ledger
        shown = client_for("meridian", url=forked.url, ledger_key=world.ledger.verifier_key)
        with pytest.raises(SplitView) as caught:
            shown.checkpoint()
        assert caught.value.exit_code == 4
        assert caught.value.remembered == world.ledger.checkpoint().note
        assert caught.value.shown == Ledger.open(other_db).checkpoint().note
    finally:
        forked.stop()


def test_a_client_pinned_to_the_old_key_follows_a_rotation(
    server: Server, parties: Parties, world: World, client_for: object, tmp_path: Path
) -> None:
    import datetime as dt

    from provenance.tlog import note

    client = client_for("meridian")  # type: ignore[operator]
    client.checkpoint()  # pins the first key
    new = keys.generate()
    new_path = tmp_path / "ledger-2.pem"
    keys.save_private(new_path, new)
    verifier = note.Signer.from_signing_key(world.ledger.origin, new).verifier()
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    world.append(
        {
            "kind": "checkpoint-key",
            "verifier_key": str(verifier),
            "replaces": world.ledger.verifier_key,
            "overlap_until": yesterday.isoformat(),
        },
        world.operator,
    )
    server.stop()
    retired = Server(world.db, tmp_path / "keys" / "ledger.pem", tmp_path)
    with pytest.raises(RuntimeError, match="overlap has ended"):
        retired.start()
    rotated = Server(world.db, new_path, tmp_path, port=server.port).start()
    try:
        answer = post(rotated, parties.shipment("SH-ROT"))
        assert answer.status_code == 201, answer.text
        signed = answer.json()["checkpoint"]
        with pytest.raises(Exception, match="no signature by a known key"):
            note.open_checkpoint(signed, [world.ledger.verifier_key])
        checkpoint, _ = client.checkpoint()  # learns the new key from the announcement
        assert checkpoint.size == world.ledger.size()
        assert str(verifier) in client.verifier_keys
    finally:
        rotated.stop()
