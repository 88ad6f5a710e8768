"""Facilities as NDJSON or CSV bytes (nested fields flattened as ``provinsi.kode`` columns)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import msgspec

from satusehat_async.msi.models import Facility

__all__ = [
    "CSV_COLUMNS",
    "FORMATS",
    "Encoder",
    "csv_header",
    "encode_csv",
    "encode_ndjson",
    "encoder_for",
    "read_keys",
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
    """CSV rows (no header) for the facilities."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(_row(f) for f in facilities)
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


def read_keys(path: Path, fmt: str) -> Iterator[str]:
    """The ``kode_satusehat`` of every facility in an NDJSON or CSV export file."""
    if fmt == "ndjson":
        with path.open("rb") as stream:
            for line in stream:
                if line.strip():
                    key = _KEY_DECODER.decode(line).kode_satusehat
                    if key is not None:
                        yield key
        return
    with path.open(encoding="utf-8", newline="") as text:
        reader = csv.reader(text)
        header = next(reader, None)
        if header is None:
            return
        index = header.index("kode_satusehat")
        for row in reader:
            if len(row) > index and row[index]:
                yield row[index]
