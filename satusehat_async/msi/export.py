"""Facilities as NDJSON or CSV bytes (nested fields flattened as ``provinsi.kode`` columns)."""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import msgspec

from satusehat_async.msi.models import Facility

__all__ = [
    "CSV_COLUMNS",
    "FORMATS",
    "DamagedExport",
    "Encoder",
    "count_records_after",
    "csv_header",
    "encode_csv",
    "encode_ndjson",
    "encoder_for",
    "read_keys",
    "scan_export",
]

FORMATS = ("ndjson", "csv")

Encoder = Callable[[Sequence[Facility]], bytes]


def _flatten(cls: type[msgspec.Struct], prefix: str = "") -> Iterator[tuple[str, tuple[str, ...]]]:
    for field in msgspec.structs.fields(cls):
        nested = [
            t
            for t in getattr(field.type, "__args__", (field.type,))
            if isinstance(t, type) and issubclass(t, msgspec.Struct)
        ]
        if nested:
            for name, path in _flatten(nested[0], f"{prefix}{field.name}."):
                yield name, (field.name, *path)
        else:
            yield f"{prefix}{field.name}", (field.name,)


_COLUMNS = list(_flatten(Facility))
#: The CSV header: every facility field, nested ones as ``parent.child``.
CSV_COLUMNS: tuple[str, ...] = tuple(name for name, _ in _COLUMNS)
_PATHS = [path for _, path in _COLUMNS]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


def _row(facility: Facility) -> list[str]:
    cells: list[str] = []
    for path in _PATHS:
        value: Any = facility
        for name in path:
            value = getattr(value, name)
            if value is None:
                break
        cells.append(_cell(value))
    return cells


def csv_header() -> bytes:
    """The CSV header line."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(CSV_COLUMNS)
    return buffer.getvalue().encode()


def encode_csv(facilities: Sequence[Facility]) -> bytes:
    """CSV rows (no header) for the facilities; every cell reads back as written.

    Rows end with ``\n``. Before Python 3.13 the ``csv`` module leaves a field holding a
    lone ``\r`` unquoted (it only quotes the characters of the line terminator), and its
    reader then splits the row there; such rows are written fully quoted. Python 3.10's
    writer refuses a NUL character and its reader stops at one, so NULs are dropped from
    CSV cells on every version (the NDJSON export keeps them).
    """
    rows = [_row(f) for f in facilities]
    buffer = io.StringIO()
    try:
        csv.writer(buffer, lineterminator="\n").writerows(rows)
    except csv.Error:  # Python 3.10 and a NUL: "need to escape"
        return _encode_csv_carefully(rows)
    text = buffer.getvalue()
    if "\r" in text or "\x00" in text:
        return _encode_csv_carefully(rows)
    return text.encode()


def _encode_csv_carefully(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    minimal = csv.writer(buffer, lineterminator="\n")
    quoted = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_ALL)
    for row in rows:
        cells = [cell.replace("\x00", "") for cell in row]
        (quoted if any("\r" in cell for cell in cells) else minimal).writerow(cells)
    return buffer.getvalue().encode()


_JSON = msgspec.json.Encoder()


def encode_ndjson(facilities: Sequence[Facility]) -> bytes:
    """One JSON object per line (normalised values: codes as text, coordinates as numbers)."""
    return _JSON.encode_lines(facilities)


def encoder_for(fmt: str) -> tuple[bytes, Encoder]:
    """The header (empty for NDJSON) and the page encoder of a format."""
    if fmt == "ndjson":
        return b"", encode_ndjson
    if fmt == "csv":
        return csv_header(), encode_csv
    raise ValueError(f"unknown format {fmt!r} (expected one of {', '.join(FORMATS)})")


class _Key(msgspec.Struct, gc=False):
    kode_satusehat: str | None = None


_KEY_DECODER = msgspec.json.Decoder(_Key)


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


def scan_export(path: Path, fmt: str, size: int) -> list[str | None]:
    """Read the first ``size`` bytes of an export back: one ``kode_satusehat`` per record.

    The prefix must end on a record boundary and every record in it must parse (for CSV:
    the header first, then rows of exactly its columns).

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
                return _scan_ndjson(prefix)
            with _large_csv_fields():
                return _scan_csv(prefix, size)
        except (UnicodeDecodeError, csv.Error, msgspec.DecodeError, RecursionError) as exc:
            raise DamagedExport(f"a record does not read back ({exc})") from None


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


def _scan_ndjson(stream: BinaryIO) -> list[str | None]:
    keys: list[str | None] = []
    for line in stream:
        if not line.strip():
            raise DamagedExport(f"record {len(keys) + 1} is an empty line")
        keys.append(_KEY_DECODER.decode(line).kode_satusehat)
    return keys


def _scan_csv(stream: BinaryIO, size: int) -> list[str | None]:
    text = io.TextIOWrapper(stream, encoding="utf-8", newline="")
    reader = csv.reader(text, strict=True)
    header = next(reader, None)
    if header is None:
        return []
    if tuple(header) != CSV_COLUMNS:
        raise DamagedExport("the CSV header is not this version's (other columns)")
    index = CSV_COLUMNS.index("kode_satusehat")
    keys: list[str | None] = []
    for row in reader:
        if len(row) != len(CSV_COLUMNS):
            raise DamagedExport(
                f"CSV record {len(keys) + 1} has {len(row)} fields, not {len(CSV_COLUMNS)}"
            )
        keys.append(row[index] or None)
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


def read_keys(path: Path, fmt: str) -> Iterator[str]:
    """The ``kode_satusehat`` of every facility in an NDJSON or CSV export file.

    Raises:
        DamagedExport: the file does not read back as whole records.
    """
    for key in scan_export(path, fmt, path.stat().st_size):
        if key is not None:
            yield key
