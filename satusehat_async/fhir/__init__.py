"""Every FHIR R4 resource and datatype as a lossless msgspec Struct, by its FHIR name.

>>> from satusehat_async.fhir import Encounter, Reference
>>> import msgspec
>>> raw = b'{"resourceType":"Encounter","status":"arrived","_status":{"id":"s"}}'
>>> encounter = msgspec.json.decode(raw, type=Encounter)
>>> encounter.status, encounter.status_ext
('arrived', Element(id='s'))
>>> msgspec.json.encode(encounter) == raw
True

The models are generated from the official StructureDefinitions (``tools/fhir_codegen``)
and load lazily: ``import satusehat_async`` imports none of them, and a name loads its
own module when first used (the datatypes load together). ``Bundle``, ``Parameters`` and
``AnyResource`` (the tagged union of every resource) hold any resource, so they load
every resource module. Conventions (see :mod:`satusehat_async.fhir.base`): snake_case
names, a primitive's ``_name`` sibling as ``<name>_ext``, decimals as exact
:class:`msgspec.Raw` (:func:`fhir_decimal`, :func:`decimal_value`), ``contained``
resources kept as their exact JSON (:func:`contained_resources` decodes them).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from satusehat_async.fhir import _names

if TYPE_CHECKING:
    from satusehat_async.fhir._exports import *  # noqa: F403
    from satusehat_async.fhir.base import NO_DECIMAL as NO_DECIMAL
    from satusehat_async.fhir.base import FHIRModel as FHIRModel
    from satusehat_async.fhir.base import decimal_value as decimal_value
    from satusehat_async.fhir.base import fhir_decimal as fhir_decimal
    from satusehat_async.fhir.base import fhir_name as fhir_name
    from satusehat_async.fhir.codec import contained_resources as contained_resources
    from satusehat_async.fhir.codec import decode_resource as decode_resource
    from satusehat_async.fhir.codec import to_builtins as to_builtins
    from satusehat_async.resource.local import local_identifier as local_identifier
    from satusehat_async.resource.transaction import Transaction as Transaction
    from satusehat_async.resource.transaction import (
        TransactionEntryResult as TransactionEntryResult,
    )
    from satusehat_async.resource.transaction import TransactionResult as TransactionResult

_HELPERS = {
    "NO_DECIMAL": "satusehat_async.fhir.base",
    "FHIRModel": "satusehat_async.fhir.base",
    "decimal_value": "satusehat_async.fhir.base",
    "fhir_decimal": "satusehat_async.fhir.base",
    "fhir_name": "satusehat_async.fhir.base",
    "contained_resources": "satusehat_async.fhir.codec",
    "decode_resource": "satusehat_async.fhir.codec",
    "to_builtins": "satusehat_async.fhir.codec",
    "local_identifier": "satusehat_async.resource.local",
    "Transaction": "satusehat_async.resource.transaction",
    "TransactionResult": "satusehat_async.resource.transaction",
    "TransactionEntryResult": "satusehat_async.resource.transaction",
    "AnyResource": "satusehat_async.fhir.resources._any",
    "RESOURCE_TYPES": "satusehat_async.fhir.resources._any",
}
# Longest first, so a backbone finds its own resource (MedicationRequestDispenseRequest).
_BY_LENGTH = sorted(_names.RESOURCES, key=len, reverse=True)
# Modules whose elements hold any resource: the union must be bound into them first.
_HOLD_ANY = frozenset({"bundle", "parameters"})

# Resources, datatypes and helpers; backbone elements (PatientContact) load by name too.
__all__ = sorted({*_names.DATATYPES, *_names.RESOURCES, *_HELPERS})


def _module_of(name: str) -> str | None:
    if name in _HELPERS:
        return _HELPERS[name]
    if name in _names.DATATYPES:
        return _names.DATATYPES_MODULE
    owner = next((r for r in _BY_LENGTH if name.startswith(r)), None)
    if owner is None:
        return None
    module = _names.RESOURCES[owner]
    if module in _HOLD_ANY:
        return "satusehat_async.fhir.resources._any"  # imports and binds that module too
    return f"{_names.RESOURCES_PACKAGE}.{module}"


def __getattr__(name: str) -> Any:
    """Load the module that defines ``name`` on first use (PEP 562)."""
    module_name = _module_of(name)
    if module_name is None:
        raise AttributeError(f"module 'satusehat_async.fhir' has no attribute {name!r}")
    module = importlib.import_module(module_name)
    if not hasattr(module, name):  # a Bundle/Parameters element: now bound, read its module
        owner = next(r for r in _BY_LENGTH if name.startswith(r))
        module = importlib.import_module(f"{_names.RESOURCES_PACKAGE}.{_names.RESOURCES[owner]}")
    try:
        value = getattr(module, name)
    except AttributeError:
        raise AttributeError(f"module 'satusehat_async.fhir' has no attribute {name!r}") from None
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
