"""Old import path of :class:`Extension`: the generated FHIR core's class.

It declares all 50 ``value[x]`` types (decimals as exact :class:`msgspec.Raw`, every
datatype typed) with the primitives' ``_valueX`` siblings; ``Extension.value`` is the one
that is set.
"""

from __future__ import annotations

from satusehat_async.fhir.datatypes import Extension

__all__ = ["Extension"]
