"""C2SP tlog-policy: which logs, which witnesses, and the quorum of cosignatures a
checkpoint needs (https://github.com/C2SP/C2SP/blob/main/tlog-policy.md).

    log <vkey> [<url>]
    witness <name> <vkey> [<url>]
    group <name> all|any|<k> <member>...
    quorum <name>|none

Lines end in a newline; items are separated by spaces and tabs; blank lines and lines
starting with `#` are ignored. A group or the quorum names only witnesses and groups
defined on earlier lines; each name once in a group; exactly one quorum line; `none`
is predefined (the quorum that needs nothing) and is no group's member. Duplicate
logs or witnesses (the same public key) are refused. Log keys are note keys (type
0x01), witness keys cosigner keys (type 0x04).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from provenance.errors import InputError, IntegrityError
from provenance.tlog import cosignature, note

NONE = "none"
ALLOWED = re.compile(rb"^[\x09\x0a\x20-\x7e\x80-\xff]*$")


@dataclass(frozen=True)
class Group:
    threshold: int
    members: tuple[str, ...]


@dataclass(frozen=True)
class Witness:
    name: str
    key: cosignature.CosignerKey
    url: str | None


@dataclass
class Policy:
    logs: list[tuple[note.Verifier, str | None]] = field(default_factory=list)
    witnesses: dict[str, Witness] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    quorum: str = NONE

    # --- evaluating ---------------------------------------------------------------------

    def met_by(self, cosigned: set[str]) -> bool:
        """Whether cosignatures by these witnesses (policy names) meet the quorum."""
        return self._witnessed(self.quorum, cosigned)

    def _witnessed(self, name: str, cosigned: set[str]) -> bool:
        if name == NONE:
            return True
        if name in self.witnesses:
            return name in cosigned
        group = self.groups[name]
        return sum(self._witnessed(m, cosigned) for m in group.members) >= group.threshold

    def cosigners(self, signed_note: str) -> set[str]:
        """The witnesses (policy names) whose cosignatures on this note verify."""
        return {w.name for w in self.witnesses.values() if cosignature.verify(signed_note, [w.key])}

    def log_verifiers(self) -> list[note.Verifier]:
        return [v for v, _ in self.logs]

    def check(self, signed_note: str) -> set[str]:
        """Check a signed checkpoint against the policy: signed by one of its logs (when
        it lists any), cosigned to the quorum. The witnesses that cosigned it, or
        `IntegrityError`."""
        if self.logs:
            note.open(signed_note, self.log_verifiers())
        found = self.cosigners(signed_note)
        if not self.met_by(found):
            names = ", ".join(sorted(found)) or "none"
            raise IntegrityError(
                f"the checkpoint does not meet the witness quorum {self.quorum!r} "
                f"(cosigned by: {names})",
                hint="it may be a view shown to you alone (a split view), or the witnesses "
                "have not cosigned it yet",
            )
        return found


def _fail(number: int, why: str) -> InputError:
    return InputError(f"witness policy line {number}: {why}")


def parse(data: bytes | str) -> Policy:
    """Parse a policy file, or raise `InputError` naming the line."""
    raw = data.encode() if isinstance(data, str) else data
    if not ALLOWED.match(raw):
        raise InputError("witness policy: control characters other than tab and newline")
    text = raw.decode("utf-8", errors="surrogateescape")
    policy = Policy()
    quorums = 0
    seen_keys: set[bytes] = set()
    log_keys: set[bytes] = set()
    for number, line in enumerate(text.split("\n"), start=1):
        items = line.replace("\t", " ").split()
        if not items or items[0].startswith("#"):
            continue
        keyword, args = items[0], items[1:]
        defined = policy.witnesses.keys() | policy.groups.keys()
        if keyword == "log":
            if len(args) not in (1, 2):
                raise _fail(number, "want `log <vkey> [<url>]`")
            try:
                verifier = note.Verifier.parse(args[0])
            except InputError as exc:
                raise _fail(number, exc.message) from exc
            raw_key = verifier.public_key.public_bytes_raw()
            if raw_key in log_keys:
                raise _fail(number, "a duplicate log")
            log_keys.add(raw_key)
            policy.logs.append((verifier, args[1] if len(args) == 2 else None))
        elif keyword == "witness":
            if len(args) not in (2, 3):
                raise _fail(number, "want `witness <name> <vkey> [<url>]`")
            name = args[0]
            if name in defined or name == NONE:
                raise _fail(number, f"{name!r} is defined already")
            try:
                key = cosignature.CosignerKey.parse(args[1])
            except InputError as exc:
                raise _fail(number, exc.message) from exc
            if key.raw() in seen_keys:
                raise _fail(number, "a duplicate witness (the same public key)")
            seen_keys.add(key.raw())
            policy.witnesses[name] = Witness(name, key, args[2] if len(args) == 3 else None)
        elif keyword == "group":
            if len(args) < 3:
                raise _fail(number, "want `group <name> all|any|<k> <member>...`")
            name, rule, members = args[0], args[1], tuple(args[2:])
            if name in defined or name == NONE:
                raise _fail(number, f"{name!r} is defined already")
            for member in members:
                if member not in defined:
                    raise _fail(number, f"{member!r} is not a witness or group defined before")
            if len(set(members)) != len(members):
                raise _fail(number, "a member listed twice")
            if rule == "all":
                threshold = len(members)
            elif rule == "any":
                threshold = 1
            elif rule.isascii() and rule.isdigit() and not rule.startswith("0"):
                threshold = int(rule)
                if not 1 <= threshold <= len(members):
                    raise _fail(number, f"threshold {threshold} is not within 1..{len(members)}")
            else:
                raise _fail(number, f"threshold {rule!r}: all, any or a number")
            policy.groups[name] = Group(threshold, members)
        elif keyword == "quorum":
            if len(args) != 1:
                raise _fail(number, "want `quorum <name>`")
            if args[0] != NONE and args[0] not in defined:
                raise _fail(number, f"{args[0]!r} is not a witness or group defined before")
            quorums += 1
            if quorums > 1:
                raise _fail(number, "a second quorum line")
            policy.quorum = args[0]
        else:
            raise _fail(number, f"unknown keyword {keyword!r}")
    if quorums != 1:
        raise InputError("witness policy: no quorum line")
    return policy


def load(path: str) -> Policy:
    from pathlib import Path

    try:
        return parse(Path(path).read_bytes())
    except FileNotFoundError as exc:
        from provenance.errors import MissingFileError

        raise MissingFileError(f"no witness policy at {path}") from exc
