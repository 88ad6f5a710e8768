"""Read FHIR R4 StructureDefinitions into class specs: one per resource, datatype, backbone.

Only the base definitions count (``derivation == "specialization"``, plus the abstract
``Element`` and ``Resource``); profiles (``constraint``) add no elements of their own.
"""

from __future__ import annotations

import json
import keyword
import re
from dataclasses import dataclass, field
from pathlib import Path

# FHIR primitive type code -> Python annotation (decimals are msgspec.Raw: exact digits).
PRIMITIVES = {
    "boolean": "bool",
    "integer": "int",
    "positiveInt": "int",
    "unsignedInt": "int",
    "decimal": "msgspec.Raw",
    **{
        code: "str"
        for code in [
            "base64Binary",
            "canonical",
            "code",
            "date",
            "dateTime",
            "id",
            "instant",
            "markdown",
            "oid",
            "string",
            "time",
            "uri",
            "url",
            "uuid",
            "xhtml",
            "http://hl7.org/fhirpath/System.String",
        ]
    },
}
# Elements every class inherits from its base, so a class never redeclares them.
INHERITED = {
    "Element": {"id", "extension"},
    "BackboneElement": {"id", "extension", "modifierExtension"},
    "Resource": {"id", "meta", "implicitRules", "language"},
    "DomainResource": {
        "id",
        "meta",
        "implicitRules",
        "language",
        "text",
        "contained",
        "extension",
        "modifierExtension",
    },
}
# Names that would shadow what an annotation refers to, or Python keywords.
RESERVED = set(keyword.kwlist) | {"msgspec", "str", "int", "bool", "list", "None"}


@dataclass
class FieldSpec:
    """One Python field: its name, FHIR JSON name, annotation and default."""

    py_name: str
    json_name: str
    annotation: str
    default: str


@dataclass
class ClassSpec:
    """One generated Struct class."""

    name: str
    base: str
    doc: str
    fields: list[FieldSpec] = field(default_factory=list)
    tag: str | None = None  # resourceType, for resources
    root: str = ""  # the resource or datatype it belongs to
    path: str = ""  # the FHIR path (Encounter.statusHistory)
    kind: str = ""  # "resource" | "datatype" | "abstract"


def snake(name: str) -> str:
    """``birthDate`` -> ``birth_date``; keywords get a trailing underscore."""
    out = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
    return out + "_" if out in RESERVED else out


def camel_from_snake(name: str) -> str:
    """The generated package's rename rule (mirrors ``satusehat_async.fhir.base.fhir_name``)."""
    prefix = ""
    if name.endswith("_ext"):
        prefix, name = "_", name[:-4]
    first, *rest = name.rstrip("_").split("_")
    return prefix + first + "".join(part[:1].upper() + part[1:] for part in rest)


def upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def first_sentence(text: str, limit: int = 88) -> str:
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", "'")
    text = text.replace("\u201d", "'").replace("\u2013", "-").replace("\u2014", "-")
    text = text.encode("ascii", "ignore").decode()
    text = " ".join(text.replace("\\", "/").replace('"', "'").split())
    cut = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0]
    if len(cut) > limit:
        cut = cut[: limit - 3].rstrip() + "..."
    if not cut.endswith((".", "...", "!", "?")):
        cut += "."
    return cut


def load_definitions(package: Path) -> dict[str, dict[str, object]]:
    """The base StructureDefinitions (resources and complex datatypes) by name."""
    found: dict[str, dict[str, object]] = {}
    for path in sorted(package.glob("StructureDefinition-*.json")):
        sd = json.loads(path.read_text(encoding="utf-8"))
        if sd.get("kind") not in ("resource", "complex-type"):
            continue
        if sd.get("derivation") != "specialization" and sd["name"] not in ("Element", "Resource"):
            continue
        found[sd["name"]] = sd
    return found


class Builder:
    """Turns StructureDefinitions into :class:`ClassSpec`s."""

    def __init__(self, definitions: dict[str, dict[str, object]]) -> None:
        self.definitions = definitions
        self.classes: dict[str, ClassSpec] = {}
        self.path_class: dict[str, str] = {}  # FHIR path of a backbone -> class name

    def build(self) -> dict[str, ClassSpec]:
        for name in sorted(self.definitions):
            self._definition(self.definitions[name])
        return self.classes

    def _definition(self, sd: dict[str, object]) -> None:
        name = str(sd["name"])
        elements = sd["snapshot"]["element"]  # type: ignore[index]
        is_resource = sd["kind"] == "resource"
        base_url = str(sd.get("baseDefinition", ""))
        base = base_url.rsplit("/", 1)[-1] if base_url else "FHIRModel"
        if name == "Element":
            base = "FHIRModel"
        kind = "abstract" if sd.get("abstract") else ("resource" if is_resource else "datatype")
        # Backbone paths first, so contentReferences anywhere resolve to class names.
        for element in elements:
            path = element["path"]
            if path != name and self._is_backbone(element):
                self.path_class[path] = self._class_name(path)
        spec = ClassSpec(
            name=name,
            base=base,
            doc=first_sentence(str(sd.get("description") or elements[0].get("short", name))),
            tag=name if kind == "resource" else None,
            root=name,
            path=name,
            kind=kind,
        )
        self.classes[name] = spec
        for element in elements[1:]:
            self._element(name, element, kind)

    @staticmethod
    def _is_backbone(element: dict[str, object]) -> bool:
        types = [t["code"] for t in element.get("type", [])]  # type: ignore[attr-defined]
        return types in (["BackboneElement"], ["Element"]) and "contentReference" not in element

    @staticmethod
    def _class_name(path: str) -> str:
        return "".join(upper_first(part.replace("[x]", "")) for part in path.split("."))

    def _owner(self, root: str, parent_path: str) -> ClassSpec:
        if parent_path == root:
            return self.classes[root]
        name = self.path_class[parent_path]
        return self.classes[name]

    def _element(self, root: str, element: dict[str, object], kind: str) -> None:
        path = str(element["path"])
        parent_path, _, element_name = path.rpartition(".")
        if self._is_backbone(element) and path in self.path_class:
            # Element ("Element" base) children of datatypes (Timing.repeat) and backbones.
            types = [t["code"] for t in element["type"]]  # type: ignore[attr-defined]
            base = "BackboneElement" if types == ["BackboneElement"] else "Element"
            self.classes[self.path_class[path]] = ClassSpec(
                name=self.path_class[path],
                base=base,
                doc=first_sentence(str(element.get("short") or path)),
                root=root,
                path=path,
                kind="backbone",
            )
        owner = self._owner(root, parent_path)
        if element_name in INHERITED.get(owner.base, set()) and owner.name != "Element":
            return
        if owner.name == "Resource" or owner.name == "Element":
            pass  # the bases declare their own elements
        elif element_name in INHERITED.get(owner.base, set()):
            return
        if owner.base in self.definitions and owner.kind in ("datatype",):
            # A datatype derived from another datatype (Age from Quantity) inherits all.
            parent_sd = self.definitions[owner.base]
            parent_paths = {
                e["path"].split(".", 1)[-1]
                for e in parent_sd["snapshot"]["element"]  # type: ignore[index]
            }
            if path.split(".", 1)[-1] in parent_paths:
                return
        for spec in self._fields(element, owner, element_name):
            owner.fields.append(spec)

    def _fields(
        self, element: dict[str, object], owner: ClassSpec, element_name: str
    ) -> list[FieldSpec]:
        many = element.get("max") != "1" and element.get("max") != "0"
        if element.get("max") == "0":
            return []
        if element.get("path") == "DomainResource.contained":
            # Kept as the exact JSON (as Patient always did): typing it as the union of every
            # resource would make the first decode of any resource build all ~660 classes.
            return [FieldSpec("contained", "contained", "list[msgspec.Raw] | None", "None")]
        if "contentReference" in element:
            ref = str(element["contentReference"]).lstrip("#")
            return [self._complex(element_name, self.path_class[ref], many)]
        if self._is_backbone(element):
            return [self._complex(element_name, self.path_class[str(element["path"])], many)]
        types = [t["code"] for t in element.get("type", [])]  # type: ignore[attr-defined]
        out: list[FieldSpec] = []
        for code in types:
            json_name = (
                element_name.replace("[x]", upper_first(code))
                if element_name.endswith("[x]")
                else element_name
            )
            if code in PRIMITIVES:
                out.extend(self._primitive(json_name, code, many, owner, element))
            else:
                target = "AnyResource" if code == "Resource" else code
                out.append(self._complex(json_name, target, many))
        return out

    @staticmethod
    def _complex(json_name: str, type_name: str, many: bool) -> FieldSpec:
        annotation = f"list[{type_name}] | None" if many else f"{type_name} | None"
        return FieldSpec(snake(json_name), json_name, annotation, "None")

    @staticmethod
    def _primitive(
        json_name: str, code: str, many: bool, owner: ClassSpec, element: dict[str, object]
    ) -> list[FieldSpec]:
        py_type = PRIMITIVES[code]
        if element.get("path") == "Extension.url":
            return [FieldSpec("url", "url", "str", "")]
        if py_type == "msgspec.Raw":
            value = FieldSpec(
                snake(json_name),
                json_name,
                "list[msgspec.Raw] | None" if many else "msgspec.Raw",
                "None" if many else "NO_DECIMAL",
            )
        else:
            annotation = f"list[{py_type} | None] | None" if many else f"{py_type} | None"
            value = FieldSpec(snake(json_name), json_name, annotation, "None")
        # xhtml (Narrative.div) and element ids carry no "_" sibling in FHIR JSON.
        if code == "xhtml" or (owner.name == "Element" and json_name == "id"):
            return [value]
        ext_annotation = "list[Element | None] | None" if many else "Element | None"
        ext = FieldSpec(value.py_name.rstrip("_") + "_ext", "_" + json_name, ext_annotation, "None")
        return [value, ext]
