"""Reading the files users hand us: YAML or JSON documents, JSON Lines.

Every reader names the file (and line, where the parser knows it) in its
error, and refuses what is too large to be a statement.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from provenance.errors import InputError, NotFoundError

MAX_DOCUMENT_BYTES = 16 * 1024 * 1024


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
            raise NotFoundError(f"{file}: no such file") from exc
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
    try:
        return yaml.load(text, Loader=_yaml_loader())  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise InputError(f"{name} is not valid YAML or JSON{where}: {exc.problem}") from exc
    except yaml.YAMLError as exc:
        raise InputError(f"{name} is not valid YAML or JSON: {exc}") from exc
    except (ValueError, OverflowError, RecursionError) as exc:
        # e.g. an integer beyond Python's 4300-digit conversion limit
        raise InputError(f"{name} is not a usable document: {exc}") from exc


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
        raise NotFoundError(f"{file}: no such file") from exc
    with handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                yield number, line


def dumps(value: Any) -> str:
    """Pretty JSON for people (stable key order, UTF-8)."""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False, default=str)
