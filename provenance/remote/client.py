"""`RemoteLedger`: the ledger served by `provenance serve`, read and written over HTTP by a
client that trusts nothing it is sent.

* The ledger's verifier key is pinned: given (`--ledger-key`), or remembered from an
  earlier contact, or, at the first contact, read from `/v1/ledger` and remembered
  (trust on first use; `pinned_now` says so, for the command to print it).
* Every checkpoint is verified against the pinned key, and against the last
  checkpoint this client saw of the same origin (kept in a state file in the XDG
  state directory): a larger tree must be consistent with it, proved from the tiles
  the server publishes; a tree that is not is a split view (`SplitView`, exit 4),
  whose message carries both signed checkpoints, the evidence a regulator needs.
* With a witness policy (C2SP tlog-policy), a checkpoint is accepted only when its
  witnesses' cosignatures meet the policy's quorum (exit 4 otherwise).
* Every receipt is verified offline (`offline.receipts`) and its checkpoint checked
  as above.
* Requests that read contents are signed (RFC 9421) with the party's key.
* 429 and 503 are retried after their Retry-After, a few times; other refusals are
  raised as the library error of the problem's exit code.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from provenance.crypto.envelope import Envelope
from provenance.crypto.keys import SigningKey
from provenance.documents import loads_json
from provenance.errors import (
    AuthorizationError,
    ConfigError,
    InputError,
    IntegrityError,
    NotFoundError,
    ProvenanceError,
    SignatureError,
)
from provenance.offline.receipts import VerifiedEntry, verify_receipt
from provenance.remote import signing
from provenance.tlog import merkle, note, tiles
from provenance.tlog.note import Checkpoint
from provenance.tlog.policy import Policy

LEDGER_ENV = "PROVENANCE_LEDGER"
LEDGER_KEY_ENV = "PROVENANCE_LEDGER_KEY"
STATE_ENV = "PROVENANCE_STATE_DIR"
RETRIES = 8


class SplitView(IntegrityError):
    """Two signed checkpoints of one origin that no append-only log can both have made."""

    def __init__(self, message: str, remembered: str, shown: str) -> None:
        super().__init__(
            f"{message}\n--- the checkpoint seen before ---\n{remembered}"
            f"--- the checkpoint shown now ---\n{shown}",
            hint="keep both notes: together they prove the log showed two histories",
        )
        self.remembered = remembered
        self.shown = shown


def state_dir() -> Path:
    """Where the client remembers ledgers: $PROVENANCE_STATE_DIR, else
    $XDG_STATE_HOME/provenance, else ~/.local/state/provenance."""
    explicit = os.environ.get(STATE_ENV)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "provenance"


@dataclass
class Remembered:
    """What the client knows of one origin: the pinned key and the last checkpoint."""

    verifier_key: str
    size: int = 0
    root: str = ""
    note: str = ""
    learned: list[str] = field(default_factory=list)
    """Checkpoint keys learned since from the ledger's announcements (`checkpoint-key`
    entries proved under a checkpoint signed by a key already trusted)."""


class State:
    """The state file: one record per origin (JSON), written atomically."""

    def __init__(self, directory: Path | None = None) -> None:
        self.path = (directory or state_dir()) / "ledgers.json"

    def load(self) -> dict[str, dict[str, Any]]:
        """Every record (malformed ones dropped)."""
        try:
            value = loads_json(self.path.read_bytes(), str(self.path), error=ConfigError)
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise ConfigError(f"cannot read the client state {self.path}: {exc}") from exc
        if not isinstance(value, dict):
            return {}
        return {k: v for k, v in value.items() if isinstance(v, dict)}

    def get(self, origin: str) -> Remembered | None:
        record = self.load().get(origin)
        if not isinstance(record, dict) or "verifier_key" not in record:
            return None
        fields = ("verifier_key", "size", "root", "note", "learned")
        return Remembered(**{k: record[k] for k in fields if k in record})

    def origin_of_url(self, url: str) -> str | None:
        for origin, record in self.load().items():
            if record.get("url") == url:
                return origin
        return None

    def put(self, origin: str, url: str, remembered: Remembered) -> None:
        records = self.load()
        records[origin] = {**remembered.__dict__, "url": url}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(f".tmp{os.getpid()}.{threading.get_ident()}")
        temporary.write_text(json.dumps(records, indent=1) + "\n", encoding="utf-8")
        os.replace(temporary, self.path)


_ERRORS: dict[int, type[ProvenanceError]] = {
    2: InputError,
    3: AuthorizationError,
    4: IntegrityError,
    5: NotFoundError,
}


def _error_of(response: httpx.Response) -> ProvenanceError:
    try:
        problem = loads_json(response.content, "problem")
        detail = str(problem.get("detail") or problem.get("title"))
        code = int(problem.get("exit_code", 2))
        hint = problem.get("hint")
        slug = str(problem.get("type", "")).rsplit("/", 1)[-1]
    except (InputError, ValueError, AttributeError, TypeError):
        detail, code, hint, slug = response.text[:200] or response.reason_phrase, 2, None, ""
    if response.status_code == 503:
        return ConfigError(f"the ledger service is unavailable: {detail}")
    cls = SignatureError if slug == "signature" else _ERRORS.get(code, InputError)
    return cls(f"{detail} (HTTP {response.status_code})", hint=hint)


class RemoteLedger:
    """A ledger at `url`, checked as it is read."""

    def __init__(
        self,
        url: str,
        *,
        key: SigningKey | None = None,
        ledger_key: str | None = None,
        state: State | None = None,
        timeout: float = 30.0,
        retries: int = RETRIES,
        transport: httpx.BaseTransport | None = None,
        witness_policy: Policy | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.key = key
        self.state = state or State()
        self.retries = retries
        self.http = httpx.Client(base_url=self.url, timeout=timeout, transport=transport)
        self.pinned_now = False
        self._lock = threading.RLock()
        self.witness_policy = witness_policy
        self._given_key = ledger_key or os.environ.get(LEDGER_KEY_ENV) or None
        self._origin: str | None = None
        self._verifier: str | None = None

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> RemoteLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- HTTP ----------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: bytes | None = None,
        signed: bool = False,
    ) -> httpx.Response:
        """A request, signed when asked, retried on 429 and 503; other refusals raise."""
        for attempt in range(self.retries + 1):
            request = self.http.build_request(
                method,
                path,
                params=params,
                content=body,
                headers={"Content-Type": "application/json"} if body is not None else None,
            )
            if signed:
                if self.key is None:
                    raise InputError(
                        "reading entries of a served ledger needs a registered key",
                        hint="pass --key KEY.pem",
                    )
                signing.sign_request(request, self.key, body)
            try:
                response = self.http.send(request)
            except httpx.TransportError as exc:
                # GETs are idempotent, and a POST of an envelope too (the same envelope
                # twice is the first entry): a dropped connection is retried.
                if attempt < self.retries:
                    time.sleep(min(2.0, 0.1 * 2**attempt))
                    continue
                raise ConfigError(f"cannot reach the ledger at {self.url}: {exc}") from exc
            if response.status_code in (429, 503) and attempt < self.retries:
                delay = response.headers.get("retry-after", "1")
                time.sleep(min(5.0, float(delay) if delay.isdigit() else 1.0))
                continue
            if response.status_code >= 400:
                raise _error_of(response)
            return response
        raise ConfigError(f"the ledger at {self.url} stayed busy")  # pragma: no cover

    def json(self, path: str, **kwargs: Any) -> Any:
        response = self.request("GET", path, **kwargs)
        try:
            return loads_json(response.content, f"{self.url}{path}", error=IntegrityError)
        except IntegrityError as exc:
            raise IntegrityError(f"{self.url}{path} did not answer JSON: {exc.message}") from exc

    # --- the ledger's identity and its checkpoints -----------------------------------

    @property
    def origin(self) -> str:
        self._identity()
        assert self._origin is not None
        return self._origin

    @property
    def verifier_key(self) -> str:
        """The key pinned at first contact (or given)."""
        self._identity()
        assert self._verifier is not None
        return self._verifier

    @property
    def verifier_keys(self) -> list[str]:
        """Every key this client trusts for the ledger: the pinned one and those learned."""
        remembered = self.state.get(self.origin)
        learned = remembered.learned if remembered is not None else []
        return [self.verifier_key, *(k for k in learned if k != self.verifier_key)]

    def _remember(self, **changes: Any) -> None:
        remembered = self.state.get(self.origin) or Remembered(self.verifier_key)
        for name, value in changes.items():
            setattr(remembered, name, value)
        self.state.put(self.origin, self.url, remembered)

    def learn_rotations(self) -> list[str]:
        """Learn the checkpoint keys the ledger announced: each announcement's receipt must
        verify under a checkpoint signed by a key already trusted, and replace a trusted
        key. Returns the keys learned now."""
        served = self.json("/v1/ledger")
        learned: list[str] = []
        for rotation in served.get("rotations", []):
            trusted = self.verifier_keys
            try:
                verified = verify_receipt(str(rotation["receipt"]), trusted)
            except (ProvenanceError, KeyError, TypeError):
                continue  # not provable with what we trust (yet): not learned
            predicate = verified.entry.statement["predicate"]
            if verified.entry.kind != "checkpoint-key" or predicate.get("replaces") not in trusted:
                continue
            new = str(predicate["verifier_key"])
            if new not in trusted and note.Verifier.parse(new).name == self.origin:
                remembered = self.state.get(self.origin) or Remembered(self.verifier_key)
                self._remember(learned=[*remembered.learned, new])
                learned.append(new)
        return learned

    def _identity(self) -> None:
        """Pin the ledger's key: given, remembered, or (first contact) as served."""
        if self._verifier is not None:
            return
        if self._given_key:
            from provenance.offline.bundles import verifier_keys

            # the key itself, or a file whose last line holds it (`ledger key -o FILE`)
            verifier = note.Verifier.parse(verifier_keys(self._given_key)[0])
            self._origin, self._verifier = verifier.name, str(verifier)
            remembered = self.state.get(verifier.name)
            if remembered is not None and remembered.verifier_key != self._verifier:
                raise IntegrityError(
                    f"the key given for {verifier.name} is not the one pinned before "
                    f"({remembered.verifier_key})",
                    hint=f"remove {verifier.name} from {self.state.path} if the key was rotated",
                )
            return
        origin = self.state.origin_of_url(self.url)
        remembered = self.state.get(origin) if origin else None
        if remembered is not None and origin is not None:
            self._origin, self._verifier = origin, remembered.verifier_key
            return
        served = self.json("/v1/ledger")
        verifier = note.Verifier.parse(str(served.get("verifier_key", "")))
        known = self.state.get(verifier.name)
        if known is not None:
            # Another URL for a ledger seen before: keep what was seen of it (its key,
            # its last checkpoint), so that another history there is a split view.
            if str(verifier) != known.verifier_key and str(verifier) not in known.learned:
                raise IntegrityError(
                    f"{self.url} serves {verifier.name} with a key other than the one "
                    f"pinned before ({known.verifier_key})"
                )
            self._origin, self._verifier = verifier.name, known.verifier_key
            self.state.put(verifier.name, self.url, known)
            return
        self._origin, self._verifier = verifier.name, str(verifier)
        self.pinned_now = True
        self.state.put(verifier.name, self.url, Remembered(str(verifier)))

    def open_checkpoint(self, text: str) -> Checkpoint:
        """Verify a signed checkpoint against the pinned key and the one seen before."""
        try:
            checkpoint = note.open_checkpoint(text, self.verifier_keys)
        except ProvenanceError as exc:
            # the ledger may have rotated its key: learn what it announced, then retry
            if not self.learn_rotations():
                raise IntegrityError(
                    f"the checkpoint from {self.url} is not signed by the pinned key: {exc.message}"
                ) from exc
            checkpoint = note.open_checkpoint(text, self.verifier_keys)
        if checkpoint.origin != self.origin:
            raise IntegrityError(f"the checkpoint is for {checkpoint.origin}, not {self.origin}")
        if self.witness_policy is not None:
            try:
                self.witness_policy.check(text)
            except IntegrityError as exc:
                raise IntegrityError(
                    f"the checkpoint of size {checkpoint.size} from {self.url} is refused: "
                    f"{exc.message}",
                    hint=exc.hint,
                ) from exc
        self._check_against_state(checkpoint, text)
        return checkpoint

    def checkpoint(self) -> tuple[Checkpoint, str]:
        text = self.request("GET", "/checkpoint").text
        return self.open_checkpoint(text), text

    def _check_against_state(self, checkpoint: Checkpoint, text: str) -> None:
        with self._lock:
            self._check_locked(checkpoint, text)

    def _check_locked(self, checkpoint: Checkpoint, text: str) -> None:
        remembered = self.state.get(self.origin) or Remembered(self.verifier_key)
        old_size, old_root = remembered.size, bytes.fromhex(remembered.root or "")
        if remembered.note and old_size == checkpoint.size:
            if old_root != checkpoint.root:
                raise SplitView(
                    f"two roots for tree size {old_size} of {self.origin}", remembered.note, text
                )
            return
        if remembered.note and old_size:
            small, large = sorted([(old_size, old_root), (checkpoint.size, checkpoint.root)])
            try:
                proof = self.consistency_from_tiles(small[0], large[0])
                merkle.verify_consistency(small[0], large[0], proof, small[1], large[1])
            except (IntegrityError, NotFoundError) as exc:
                raise SplitView(
                    f"the checkpoint of size {checkpoint.size} is not consistent with the one "
                    f"of size {old_size} seen before ({exc.message})",
                    remembered.note,
                    text,
                ) from exc
            if checkpoint.size < old_size:
                return  # an older view, consistent with what we saw: keep the newer one
        self._remember(size=checkpoint.size, root=checkpoint.root.hex(), note=text)

    # --- the tree, from the tiles ----------------------------------------------------

    def tile(self, tile: tiles.Tile) -> list[bytes]:
        data = self.request("GET", "/" + tile.path(), signed=tile.entries).content
        return tiles.hashes_of(data, tile)

    def consistency_from_tiles(self, old: int, new: int) -> list[bytes]:
        """A consistency proof computed from the public tiles of the tree of `new`."""
        if old in (0, new):
            return []
        return merkle.resolve(
            merkle.consistency_nodes(old, new), tiles.nodes_from_tiles(new, self.tile)
        )

    def root_from_tiles(self, size: int) -> bytes:
        return tiles.root_from_tiles(size, self.tile)

    # --- entries -------------------------------------------------------------------------

    def verified_receipt(self, text: str) -> VerifiedEntry:
        """A receipt checked offline with the pinned key, its checkpoint against the state."""
        try:
            verified = verify_receipt(text, self.verifier_keys)
        except IntegrityError:
            if not self.learn_rotations():
                raise
            verified = verify_receipt(text, self.verifier_keys)
        self.open_checkpoint(text.partition("\n\n")[2])
        return verified

    def append(self, envelope: Envelope) -> dict[str, Any]:
        """Submit an envelope; the answer with its receipt verified."""
        body = json.dumps(envelope.to_json()).encode()
        response = self.request("POST", "/v1/entries", body=body, signed=self.key is not None)
        data = loads_json(response.content, f"{self.url}/v1/entries", error=IntegrityError)
        if not isinstance(data, dict) or not isinstance(data.get("receipt"), str):
            raise IntegrityError(f"{self.url}/v1/entries answered without a receipt")
        verified = self.verified_receipt(data["receipt"])
        if verified.entry.envelope.digest() != envelope.digest():
            raise IntegrityError(f"the receipt from {self.url} is for another envelope")
        data["verified"] = verified
        return data

    def append_many(
        self,
        envelopes: list[Envelope],
        *,
        labels: list[str] | None = None,
        progress: Any = None,
        workers: int = 16,
    ) -> list[dict[str, Any]]:
        """Submit envelopes concurrently (the server groups them into batches); the
        answers in order, each receipt verified. Not all or nothing: each envelope is
        appended or refused on its own, and the same envelope again is its first entry,
        so a failed import is simply run again."""
        from concurrent.futures import ThreadPoolExecutor

        def one(item: tuple[int, Envelope]) -> dict[str, Any]:
            i, envelope = item
            try:
                answer = self.append(envelope)
            except ProvenanceError as exc:
                label = labels[i] if labels else f"envelope {i + 1}"
                raise type(exc)(f"{label}: {exc.message}", hint=exc.hint) from exc
            if progress:
                progress(1)
            return answer

        with ThreadPoolExecutor(workers) as pool:
            return list(pool.map(one, enumerate(envelopes)))

    def entry(self, seq: int) -> VerifiedEntry:
        data = self.json(f"/v1/entries/{seq}", signed=True)
        verified = self.verified_receipt(data["receipt"])
        if verified.entry.seq != seq:
            raise IntegrityError(f"asked for entry {seq}, was sent entry {verified.entry.seq}")
        return verified

    def entries(self, start: int, limit: int = 1000) -> dict[str, Any]:
        page: dict[str, Any] = self.json(
            "/v1/entries", params={"from": start, "limit": limit}, signed=True
        )
        return page

    def receipt(self, seq: int) -> str:
        text: str = self.json(f"/v1/entries/{seq}", signed=True)["receipt"]
        self.verified_receipt(text)
        return text

    def bundle(self, seqs: list[int] | None = None) -> dict[str, Any]:
        """A bundle of these entries (every entry: None), verified offline before it is
        returned, its checkpoint checked against the one seen before."""
        from provenance.offline.bundles import verify_bundle

        params = {"seq": seqs} if seqs else None
        data: dict[str, Any] = self.json("/v1/bundle", params=params, signed=True)
        try:
            verify_bundle(data, self.verifier_keys)
        except ProvenanceError as exc:
            raise IntegrityError(
                f"the bundle from {self.url} does not verify: {exc.message}"
            ) from exc
        self.open_checkpoint(str(data["receipts"][0]).partition("\n\n")[2])
        return data

    def chip(self, serial: str) -> dict[str, Any]:
        """A chip's history as served, each entry's receipt verified here and the entry's
        kind, number and statement checked against what the history says."""
        data: dict[str, Any] = self.json(f"/v1/chips/{serial}", signed=True)
        for item in data.get("history", []):
            verified = self.verified_receipt(str(item.pop("receipt", "")))
            entry = verified.entry
            if (
                entry.seq != item.get("seq")
                or entry.kind != item.get("kind")
                or entry.statement["predicate"] != item.get("predicate")
            ):
                raise IntegrityError(
                    f"the history of chip {serial} misstates entry {item.get('seq')}"
                )
        return data

    def status(self) -> dict[str, Any]:
        """Whose the signing key is, and the open flags it may read, by severity."""
        data: dict[str, Any] = self.json("/v1/status", signed=True)
        return data

    def shipment(self, shipment_id: str) -> dict[str, Any]:
        """A shipment as served, its entry's receipt verified here and the declaration
        checked against the signed statement."""
        data: dict[str, Any] = self.json(f"/v1/shipments/{shipment_id}", signed=True)
        verified = self.verified_receipt(str(data.pop("receipt", "")))
        signed = verified.entry.statement["predicate"]
        not_signed = IntegrityError(f"the shipment {shipment_id} served is not the one signed")
        if verified.entry.seq != data.get("seq"):
            raise not_signed
        if "version_receipt" in data:  # amended: the facts are the amendment's
            version = self.verified_receipt(str(data.pop("version_receipt")))
            amended = version.entry.statement["predicate"]
            if (
                version.entry.seq != data.get("version_seq")
                or version.entry.kind != "shipment-amendment"
            ):
                raise not_signed
            signed = amended["shipment"]
        if "void_receipt" in data:
            void = self.verified_receipt(str(data.pop("void_receipt")))
            if void.entry.seq != data.get("voided_seq") or void.entry.kind != "shipment-void":
                raise not_signed
        fields = ("id", "exporter", "consignee", "end_user", "ship_date", "destination")
        if any(signed.get(f) != data.get(f) for f in fields):
            raise not_signed
        return data
