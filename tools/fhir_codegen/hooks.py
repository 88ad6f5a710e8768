"""Hand-written additions to generated classes: extra (field-less) bases, by class name.

A generated class named here also inherits the mixin, which adds properties only
(``Patient.nik``, ``Extension.value``, ``Resource.resource_type``); the mixins are plain
code in :mod:`satusehat_async.fhir.conveniences`, reviewed and type-checked as such.
"""

from __future__ import annotations

CONVENIENCES = "satusehat_async.fhir.conveniences"

#: class name -> (module, mixin class) it inherits besides its FHIR base.
MIXINS: dict[str, tuple[str, str]] = {
    "Resource": (CONVENIENCES, "ResourceConveniences"),
    "Patient": (CONVENIENCES, "PatientConveniences"),
    "Extension": (CONVENIENCES, "ExtensionConveniences"),
}

#: mixin class name -> its module (for the generated imports).
MIXIN_MODULES: dict[str, str] = {mixin: module for module, mixin in MIXINS.values()}
