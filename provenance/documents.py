"""Reading the files users hand us: YAML or JSON documents, JSON Lines.

Every reader names the file (and line, where the parser knows it) in its
error, and refuses what is too large to be a statement.

`loads_json` is the one strict JSON reader every JSON input goes through (envelopes,
statements, bundles, receipts' leaves, reports, HTTP bodies): UTF-8 only, no NaN or
Infinity, no duplicate keys, integers of at most `MAX_INT_DIGITS` digits, nesting at most
`MAX_DEPTH` deep. YAML documents are held to the same depth and integer limits.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from provenance.errors import InputError, MissingFileError, ProvenanceError

MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 64
"""Deepest nesting of arrays and objects any input may have (statements need under 10)."""
MAX_INT_DIGITS = 40
"""Most digits of an integer in a document (a tree size or seq needs 20 at most)."""
MAX_NODES = 1_000_000
"""Most values a YAML document may expand to (aliases are followed: no "billion laughs")."""


class _Refused(ValueError):
    """Raised inside the JSON parser's hooks; turned into the caller's error."""


def _json_int(text: str) -> int:
    digits = len(text) - text.startswith("-")
    if digits > MAX_INT_DIGITS:
        raise _Refused(f"an integer of {digits} digits (at most {MAX_INT_DIGITS})")
    return int(text)


def _json_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _Refused(f"the number {text[:20]}... is out of range")
    return value


def _json_constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON number")


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Refused(f"the key {key!r} appears twice in one object")
            seen.add(key)
    return value


def _check_shape(
    value: Any, name: str, error: type[ProvenanceError], max_nodes: int | None = MAX_NODES
) -> None:
    """Refuse nesting deeper than MAX_DEPTH and more than `max_nodes` values, iteratively
    (never recursing: the check must not fail the way it guards against)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    nodes = 0
    while stack:
        item, depth = stack.pop()
        nodes += 1
        if max_nodes is not None and nodes > max_nodes:
            raise error(f"{name} holds more than {max_nodes} values")
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            if isinstance(item, int) and not isinstance(item, bool):
                _bounded_int(item, name, error)
            continue
        if depth > MAX_DEPTH:
            raise error(f"{name} is nested more than {MAX_DEPTH} deep")
        stack.extend((child, depth + 1) for child in children)


def _bounded_int(value: int, name: str, error: type[ProvenanceError]) -> None:
    if value.bit_length() > 4 * MAX_INT_DIGITS:  # 10**40 < 2**133: a cheap, safe bound
        raise error(f"{name} holds an integer of more than {MAX_INT_DIGITS} digits")


def loads_json(
    data: bytes | str, name: str = "input", *, error: type[ProvenanceError] = InputError
) -> Any:
    """Parse JSON strictly (see the module's docstring); any refusal is `error` naming `name`."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise error(f"{name} is not UTF-8 (byte {exc.start})") from exc
    else:
        text = data
    try:
        value = json.loads(
            text,
            parse_int=_json_int,
            parse_float=_json_float,
            parse_constant=_json_constant,
            object_pairs_hook=_json_object,
        )
    except _Refused as exc:
        raise error(f"{name} is not acceptable JSON: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise error(
            f"{name} is not valid JSON: line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from exc
    except RecursionError as exc:
        raise error(f"{name} is nested more than {MAX_DEPTH} deep") from exc
    except ValueError as exc:  # e.g. a float the C scanner cannot convert
        raise error(f"{name} is not acceptable JSON: {exc}") from exc
    if (text.count("[") + text.count("{")) > MAX_DEPTH:
        _check_shape(value, name, error, None)  # JSON has no aliases: its bytes bound it
    return value


def read_bytes(path: str | Path, *, limit: int = MAX_DOCUMENT_BYTES) -> bytes:
    """The bytes of a file, or of standard input for `-`."""
    if str(path) == "-":
        data = sys.stdin.buffer.read(limit + 1)
        name = "standard input"
    else:
        file = Path(path)
        try:
            with file.open("rb") as handle:
                data = handle.read(limit + 1)
        except FileNotFoundError as exc:
            raise MissingFileError(f"{file}: no such file") from exc
        except IsADirectoryError as exc:
            raise InputError(f"{file} is a directory, not a file") from exc
        except OSError as exc:
            raise InputError(f"cannot read {file}: {exc.strerror}") from exc
        name = str(file)
    if len(data) > limit:
        raise InputError(f"{name} is over the {limit // (1024 * 1024)} MiB limit")
    return data


def display_name(path: str | Path) -> str:
    return "standard input" if str(path) == "-" else str(path)


class WrittenInt(int):
    """An integer YAML read from digits it writes differently (`0123` is octal 83 to
    YAML 1.1, `0x1F`, `1_000`): `written` keeps the text, so a field that wants a
    string (a serial) can take the digits as they were written, or refuse them."""

    written: str

    def __new__(cls, value: int, written: str) -> WrittenInt:
        self = super().__new__(cls, value)
        self.written = written
        return self


class NotADate(str):
    """A scalar YAML resolves as a timestamp that is no date (`2026-13-01`): kept as the
    text written, so the model that reads it names the field."""


_loader: Any = None


def _yaml_loader() -> Any:
    """PyYAML's SafeLoader, with the two changes above: an impossible date is the text
    written (validation names its field) and an integer keeps its written digits when
    YAML reads them as something else."""
    global _loader
    if _loader is not None:
        return _loader
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def timestamp(loader: Any, node: Any) -> Any:
        try:
            return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
        except (ValueError, OverflowError):
            return NotADate(node.value)

    def integer(loader: Any, node: Any) -> Any:
        value = yaml.SafeLoader.construct_yaml_int(loader, node)
        text = str(node.value)
        return value if text == str(value) else WrittenInt(value, text)

    Loader.add_constructor("tag:yaml.org,2002:timestamp", timestamp)
    Loader.add_constructor("tag:yaml.org,2002:int", integer)
    _loader = Loader
    return Loader


def parse(data: bytes, name: str) -> Any:
    """Parse YAML (which includes JSON); errors name the line and column."""
    import yaml  # here, not at the top: commands that read no document start faster

    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{name} is not UTF-8 text (byte {exc.start})") from exc
    _yaml_precheck(text, name)
    try:
        value = yaml.load(text, Loader=_yaml_loader())  # noqa: S506 - a SafeLoader subclass
    except RecursionError as exc:
        raise InputError(f"{name} is nested more than {MAX_DEPTH} deep") from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise InputError(f"{name} is not valid YAML or JSON{where}: {exc.problem}") from exc
    except yaml.YAMLError as exc:
        raise InputError(f"{name} is not valid YAML or JSON: {exc}") from exc
    except (ValueError, TypeError, OverflowError) as exc:  # a constructor's int(), date()...
        raise InputError(f"{name} holds a value YAML cannot read: {exc}") from exc
    _check_shape(value, name, InputError)
    return value


_QUOTED = re.compile(r'"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\n]|\'\')*\'')
_DIGIT_RUN = re.compile(r"[0-9_]{256}")


def _yaml_precheck(text: str, name: str) -> None:
    """Refuse, before PyYAML sees them, the inputs it takes quadratic time over: deeply
    nested flow collections (5,000 `[` take it seconds, 100,000 minutes) and very long runs
    of digits (its number patterns backtrack)."""
    if _DIGIT_RUN.search(text):
        raise InputError(f"{name} holds a number of more than 255 digits")
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return
    depth = deepest = 0
    for char in _QUOTED.sub("", text):
        if char in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_DEPTH:
                    raise InputError(f"{name} is nested more than {MAX_DEPTH} deep")
        elif char in "]}":
            depth = max(depth - 1, 0)


def read_document(path: str | Path) -> Any:
    """Read and parse one YAML or JSON document."""
    value = parse(read_bytes(path), display_name(path))
    if value is None:
        raise InputError(f"{display_name(path)} is empty")
    return value


def read_mapping(path: str | Path) -> dict[str, Any]:
    value = read_document(path)
    if not isinstance(value, dict):
        raise InputError(f"{display_name(path)} must hold a mapping (fields and values)")
    return value


def json_lines(path: str | Path) -> Iterator[tuple[int, bytes]]:
    """Non-blank lines of a JSON Lines file with their line numbers (1-based)."""
    if str(path) == "-":
        stream = sys.stdin.buffer
        for number, line in enumerate(stream, 1):
            if line.strip():
                yield number, line
        return
    file = Path(path)
    try:
        handle = file.open("rb")
    except FileNotFoundError as exc:
        raise MissingFileError(f"{file}: no such file") from exc
    with handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                yield number, line


def dumps(value: Any) -> str:
    """Pretty JSON for people (stable key order, UTF-8)."""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False, default=str)
