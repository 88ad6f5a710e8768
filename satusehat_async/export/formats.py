"""Rows of any msgspec Struct as NDJSON or CSV bytes, and the layout that reads them back.

A :class:`RecordLayout` is what an export knows of its rows: the row Struct (its fields,
nested ones flattened as ``parent.child``, are the CSV columns) and how a written record's
identity is read back on resume (a small Struct of the key fields and a key function).
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Callable, Hashable, Iterator, Sequence
from typing import Any

import msgspec

from satusehat_async.errors import ValidationError

__all__ = ["FORMATS", "Encoder", "RecordLayout", "check_format", "flatten"]

#: The export formats.
FORMATS = ("ndjson", "csv")

Encoder = Callable[[Sequence[Any]], bytes]


def check_format(fmt: object) -> str:
    """``ndjson`` or ``csv`` (any case).

    Raises:
        ValidationError: another value.
    """
    if isinstance(fmt, str) and fmt.strip().lower() in FORMATS:
        return fmt.strip().lower()
    raise ValidationError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")


def flatten(model: type[msgspec.Struct], prefix: str = "") -> Iterator[tuple[str, tuple[str, ...]]]:
    """``(column, attribute path)`` of every field of ``model``, nested Structs flattened."""
    for field in msgspec.structs.fields(model):
        nested = [
            t
            for t in getattr(field.type, "__args__", (field.type,))
            if isinstance(t, type) and issubclass(t, msgspec.Struct)
        ]
        if nested:
            for name, path in flatten(nested[0], f"{prefix}{field.name}."):
                yield name, (field.name, *path)
        else:
            yield f"{prefix}{field.name}", (field.name,)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


def _encode_csv_carefully(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    minimal = csv.writer(buffer, lineterminator="\n")
    quoted = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_ALL)
    for row in rows:
        cells = [cell.replace("\x00", "") for cell in row]
        (quoted if any("\r" in cell for cell in cells) else minimal).writerow(cells)
    return buffer.getvalue().encode()


_JSON = msgspec.json.Encoder()


@dataclasses.dataclass(frozen=True, eq=False)
class RecordLayout:
    """How rows of ``model`` are written, and how their identities are read back.

    Args:
        model: the row Struct; its fields (nested ones as ``parent.child``) are the CSV
            columns, in declaration order.
        key_model: a Struct of the fields a row's identity is made of (each a column of
            ``model``); a written record is read back into it on resume.
        key: a row's identity from a row *or* a ``key_model`` instance (None: no
            identity, never skipped).
        noun: what the rows are, in messages (``"facilities"``).
        source: what is crawled, in messages (``"registry"``).
    """

    model: type[msgspec.Struct]
    key_model: type[msgspec.Struct]
    key: Callable[[Any], Hashable | None]
    noun: str = "records"
    source: str = "registry"
    columns: tuple[str, ...] = dataclasses.field(init=False)
    _paths: tuple[tuple[str, ...], ...] = dataclasses.field(init=False, repr=False)

    def __post_init__(self) -> None:
        flat = list(flatten(self.model))
        object.__setattr__(self, "columns", tuple(name for name, _ in flat))
        object.__setattr__(self, "_paths", tuple(path for _, path in flat))
        missing = [name for name, _ in flatten(self.key_model) if name not in self.columns]
        if missing:
            raise ValidationError(
                f"{self.model.__name__} lacks the key field(s) {', '.join(missing)}"
            )

    def _row(self, record: Any) -> list[str]:
        cells: list[str] = []
        for path in self._paths:
            value: Any = record
            for name in path:
                value = getattr(value, name)
                if value is None:
                    break
            cells.append(_cell(value))
        return cells

    def csv_header(self) -> bytes:
        """The CSV header line."""
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow(self.columns)
        return buffer.getvalue().encode()

    def encode_csv(self, records: Sequence[Any]) -> bytes:
        """CSV rows (no header); every cell reads back as written.

        Rows end with ``\\n``. Before Python 3.13 the ``csv`` module leaves a field holding
        a lone ``\\r`` unquoted (it only quotes the characters of the line terminator), and
        its reader then splits the row there; such rows are written fully quoted. Python
        3.10's writer refuses a NUL character and its reader stops at one, so NULs are
        dropped from CSV cells on every version (the NDJSON export keeps them).
        """
        rows = [self._row(r) for r in records]
        buffer = io.StringIO()
        try:
            csv.writer(buffer, lineterminator="\n").writerows(rows)
        except csv.Error:  # Python 3.10 and a NUL: "need to escape"
            return _encode_csv_carefully(rows)
        text = buffer.getvalue()
        if "\r" in text or "\x00" in text:
            return _encode_csv_carefully(rows)
        return text.encode()

    @staticmethod
    def encode_ndjson(records: Sequence[Any]) -> bytes:
        """One JSON object per line."""
        return _JSON.encode_lines(records)

    def encoder(self, fmt: str) -> tuple[bytes, Encoder]:
        """The header (empty for NDJSON) and the page encoder of a format."""
        if check_format(fmt) == "ndjson":
            return b"", self.encode_ndjson
        return self.csv_header(), self.encode_csv

    @property
    def key_columns(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """The key fields: (column, path), for reading a CSV record's identity."""
        return tuple(flatten(self.key_model))
