"""The mirror's facility columns: every :class:`~satusehat_async.msi.Facility` field, flattened.

A nested object becomes one column per field, named ``<object>_<field>``
(``provinsi.kode`` -> ``provinsi_kode``); a null object and an object of nulls both store
NULLs. Types follow the models: text for codes and names, REAL for the coordinates,
INTEGER 0/1 for the flags (NULL when unknown). The column list is derived from the models,
so a field added to :class:`~satusehat_async.msi.Facility` gets its column with the next
rebuild (``full=True`` on a new database).
"""

from __future__ import annotations

import hashlib
import types
import typing
from collections.abc import Sequence
from typing import Any

import msgspec

from satusehat_async.msi.models import Facility

__all__ = ["COLUMNS", "FacilityRow", "flatten", "row_hash"]

#: One facility as the mirror stores it: the values of :data:`COLUMNS`, in order.
FacilityRow = tuple[Any, ...]

_SQL_TYPES = {str: "TEXT", float: "REAL", bool: "INTEGER", int: "INTEGER"}
_encode = msgspec.json.Encoder().encode


def _base_type(annotation: Any) -> Any:
    """``X | None`` -> ``X``."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return members[0]
    return annotation


def _struct_fields(struct: type[msgspec.Struct]) -> list[tuple[str, Any]]:
    hints = typing.get_type_hints(struct)
    return [(name, _base_type(hints[name])) for name in struct.__struct_fields__]


def _layout() -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str | None], ...]]:
    """(column name, SQL type) pairs and the (field, nested field) path of each column."""
    columns: list[tuple[str, str]] = []
    paths: list[tuple[str, str | None]] = []
    for name, kind in _struct_fields(Facility):
        if isinstance(kind, type) and issubclass(kind, msgspec.Struct):
            for sub, sub_kind in _struct_fields(kind):
                columns.append((f"{name}_{sub}", _SQL_TYPES[sub_kind]))
                paths.append((name, sub))
        else:
            columns.append((name, _SQL_TYPES[kind]))
            paths.append((name, None))
    return tuple(columns), tuple(paths)


_COLUMN_TYPES, _PATHS = _layout()

#: ``(name, SQL type)`` of every facility column of the ``facility`` table, in order; the
#: first is ``kode_satusehat``, the primary key.
COLUMNS: tuple[tuple[str, str], ...] = _COLUMN_TYPES


# Per Facility field: 0 for a plain value, else the width of the nested object's columns.
_WIDTHS = tuple(
    len(_struct_fields(kind)) if isinstance(kind, type) and issubclass(kind, msgspec.Struct) else 0
    for _, kind in _struct_fields(Facility)
)
_NULLS = {width: (None,) * width for width in set(_WIDTHS)}
_astuple = msgspec.structs.astuple


def flatten(facility: Facility) -> FacilityRow:
    """The column values of one facility, in the order of :data:`COLUMNS`.

    Flags stay bools (``sqlite3`` stores them as the integers 0 and 1).
    """
    values: list[Any] = []
    extend, append = values.extend, values.append
    for value, width in zip(_astuple(facility), _WIDTHS, strict=True):
        if not width:
            append(value)
        elif value is None:
            extend(_NULLS[width])
        else:
            extend(_astuple(value))
    return tuple(values)


def row_hash(row: Sequence[Any]) -> str:
    """A digest of a row's content: equal rows, equal digests (what "changed" compares)."""
    return hashlib.blake2b(_encode(list(row)), digest_size=10).hexdigest()
