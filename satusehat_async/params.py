"""Query parameters: strictly encoded, so nothing is sent that means what the caller did not."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from satusehat_async.errors import ValidationError

__all__ = ["ParamValue", "Params", "Scalar", "encode_params"]

Scalar = str | int | float | bool
ParamValue = Scalar | Sequence[Scalar] | None
Params = Mapping[str, ParamValue]


def _scalar(key: str, value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValidationError(f"query parameter {key!r} must be a finite number, got {value}")
        return repr(value)
    raise ValidationError(
        f"query parameter {key!r} must be a string, number or bool, not {type(value).__name__}"
    )


def encode_params(params: Params | None) -> list[tuple[str, str]]:
    """Query parameters as pairs: list values repeat the key, None is left out, bools lower-case.

    Anything else (None inside a list, NaN, a dict...) raises ValidationError: nothing is
    sent with a parameter that would not mean what the caller thinks.
    """
    pairs: list[tuple[str, str]] = []
    for key, value in (params or {}).items():
        if value is None:
            continue
        if isinstance(value, (list, tuple, set, frozenset)):
            pairs.extend((key, _scalar(key, v)) for v in value)
        else:
            pairs.append((key, _scalar(key, value)))
    return pairs
