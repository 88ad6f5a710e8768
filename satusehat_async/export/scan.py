"""Reading an export back: the identity of every whole record before a byte offset.

On resume the checkpoint's length must end on a record boundary and every record before
it must parse (for CSV: this layout's header first, then rows of exactly its columns).
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
from collections.abc import Hashable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import msgspec

from satusehat_async.export.formats import RecordLayout

__all__ = ["DamagedExport", "count_records_after", "read_keys", "scan_export"]


class DamagedExport(ValueError):
    """An export file does not read back as whole records; ``str()`` says where."""


@contextlib.contextmanager
def _large_csv_fields() -> Iterator[None]:
    # The csv reader refuses fields over 128 KiB by default; an export may hold longer ones.
    previous = csv.field_size_limit()
    csv.field_size_limit(max(previous, 2**31 - 1))
    try:
        yield
    finally:
        csv.field_size_limit(previous)


class _Prefix(io.RawIOBase):
    """The first ``size`` bytes of a binary file, as a raw stream."""

    def __init__(self, raw: BinaryIO, size: int) -> None:
        self._raw = raw
        self._left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self._raw.read(min(len(view), self._left))
        view[: len(data)] = data
        self._left -= len(data)
        return len(data)


_DECODERS: dict[type[msgspec.Struct], msgspec.json.Decoder[Any]] = {}


def _key_decoder(layout: RecordLayout) -> msgspec.json.Decoder[Any]:
    decoder = _DECODERS.get(layout.key_model)
    if decoder is None:
        decoder = _DECODERS[layout.key_model] = msgspec.json.Decoder(layout.key_model)
    return decoder


def scan_export(path: Path, fmt: str, size: int, layout: RecordLayout) -> list[Hashable | None]:
    """Read the first ``size`` bytes of an export back: one identity per record.

    Raises:
        DamagedExport: the prefix does not read back as whole records.
    """
    with path.open("rb") as raw:
        if size > 0:
            raw.seek(size - 1)
            if raw.read(1) != b"\n":
                raise DamagedExport(f"byte {size} is not the end of a record")
        raw.seek(0)
        prefix = io.BufferedReader(_Prefix(raw, size))
        try:
            if fmt == "ndjson":
                return _scan_ndjson(prefix, layout)
            with _large_csv_fields():
                return _scan_csv(prefix, layout)
        except (
            UnicodeDecodeError,
            csv.Error,
            msgspec.DecodeError,
            msgspec.ValidationError,
            RecursionError,
        ) as exc:
            raise DamagedExport(f"a record does not read back ({exc})") from None


def _scan_ndjson(stream: BinaryIO, layout: RecordLayout) -> list[Hashable | None]:
    decode, key = _key_decoder(layout).decode, layout.key
    keys: list[Hashable | None] = []
    for line in stream:
        if not line.strip():
            raise DamagedExport(f"record {len(keys) + 1} is an empty line")
        keys.append(key(decode(line)))
    return keys


def _nest(cells: dict[str, str], columns: tuple[tuple[str, tuple[str, ...]], ...]) -> Any:
    """The key fields of one CSV row as the nested dict the key Struct reads."""
    record: dict[str, Any] = {}
    for column, path in columns:
        value = cells[column]
        if value == "":
            continue  # an empty cell is a missing (None) value
        node = record
        for name in path[:-1]:
            node = node.setdefault(name, {})
        node[path[-1]] = value
    return record


def _scan_csv(stream: BinaryIO, layout: RecordLayout) -> list[Hashable | None]:
    text = io.TextIOWrapper(stream, encoding="utf-8", newline="")
    reader = csv.reader(text, strict=True)
    header = next(reader, None)
    if header is None:
        return []
    columns = layout.columns
    if tuple(header) != columns:
        raise DamagedExport("the CSV header is not this version's (other columns)")
    key_columns = layout.key_columns
    indexes = [(name, columns.index(name)) for name, _ in key_columns]
    key, model = layout.key, layout.key_model
    keys: list[Hashable | None] = []
    for row in reader:
        if len(row) != len(columns):
            raise DamagedExport(
                f"CSV record {len(keys) + 1} has {len(row)} fields, not {len(columns)}"
            )
        cells = {name: row[index] for name, index in indexes}
        keys.append(key(msgspec.convert(_nest(cells, key_columns), model, strict=False)))
    return keys


def count_records_after(path: Path, fmt: str, offset: int, *, limit: int) -> int:
    """How many complete records follow byte ``offset`` of an export (counting stops
    past ``limit``, so a huge tail is not read whole)."""
    with path.open("rb") as raw:
        raw.seek(0, io.SEEK_END)
        size = raw.tell()
        raw.seek(max(size - 1, 0))
        unfinished = size > offset and raw.read(1) != b"\n"  # a partial record at the end
        raw.seek(offset)
        if fmt == "ndjson":
            records = sum(1 for _ in itertools.islice(raw, limit + 2))
        else:
            text = io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="")
            with _large_csv_fields():
                try:
                    records = sum(1 for _ in itertools.islice(csv.reader(text), limit + 2))
                except csv.Error:  # not CSV at all: the file is damaged past the checkpoint
                    return limit + 1
            text.detach()
    return max(records - unfinished, 0)


def read_keys(path: Path, fmt: str, layout: RecordLayout) -> Iterator[Hashable]:
    """The identity of every record of an NDJSON or CSV export file (None ones skipped).

    Raises:
        DamagedExport: the file does not read back as whole records.
    """
    for key in scan_export(path, fmt, path.stat().st_size, layout):
        if key is not None:
            yield key
