"""Pack the class specs into the package's modules (see :mod:`tools.fhir_codegen.emit`)."""

from __future__ import annotations

from pathlib import Path

from tools.fhir_codegen.emit import (
    DATATYPES_PKG,
    HEADER,
    MAX_LINES,
    PKG,
    RESOURCES_PKG,
    Chunk,
    chunks_for,
    imports_block,
    module_name,
    render_module,
    write,
)
from tools.fhir_codegen.hooks import MIXIN_MODULES
from tools.fhir_codegen.model import ClassSpec

BASE_NAMES = {"FHIRModel", "NO_DECIMAL"}
# Profiles of Quantity that R4 names as datatypes but that add no elements.
QUANTITY_PROFILES = ("MoneyQuantity", "SimpleQuantity")


def _datatype_order(classes: dict[str, ClassSpec]) -> list[ClassSpec]:
    """Datatypes with every base class before the classes derived from it."""
    specs = [c for c in classes.values() if c.kind != "resource" and c.root not in RESOURCE_ROOTS]
    done: set[str] = {"FHIRModel"}
    ordered: list[ClassSpec] = []
    pending = sorted(specs, key=lambda c: (c.name not in ("Element", "BackboneElement"), c.name))
    while pending:
        for spec in pending:
            if spec.base in done:
                ordered.append(spec)
                done.add(spec.name)
                pending.remove(spec)
                break
        else:
            raise RuntimeError(f"unresolvable bases: {[c.name for c in pending]}")
    return ordered


RESOURCE_ROOTS: set[str] = set()


def _pack(chunks: list[Chunk], budget: int) -> list[list[Chunk]]:
    modules: list[list[Chunk]] = [[]]
    used = 0
    for chunk in chunks:
        if modules[-1] and used + chunk.cost > budget:
            modules.append([])
            used = 0
        modules[-1].append(chunk)
        used += chunk.cost
    return modules


def write_datatypes(out: Path, classes: dict[str, ClassSpec]) -> list[str]:
    """Write ``datatypes/``; returns the public datatype names."""
    ordered = _datatype_order(classes)
    chunks = [c for spec in ordered for c in chunks_for(spec, MAX_LINES - 40)]
    parts = _pack(chunks, MAX_LINES - 40)
    where: dict[str, str] = {}
    for index, part in enumerate(parts, 1):
        for chunk in part:
            where[chunk.name] = f"{DATATYPES_PKG}._part{index}"
    public = [s.name for s in ordered]
    for index, part in enumerate(parts, 1):
        me = f"{DATATYPES_PKG}._part{index}"
        runtime: dict[str, set[str]] = {}
        typing_only: dict[str, set[str]] = {}
        base_names = {c.base for c in part} | {"NO_DECIMAL"}
        for chunk in part:
            for ref in chunk.refs | {chunk.base}:
                if ref in MIXIN_MODULES:
                    runtime.setdefault(MIXIN_MODULES[ref], set()).add(ref)
                    continue
                if ref in BASE_NAMES:
                    if ref == "FHIRModel" or any("NO_DECIMAL" in line for line in chunk.lines):
                        runtime.setdefault(f"{PKG}.base", set()).add(ref)
                    continue
                if ref == "msgspec" or where.get(ref) == me:
                    continue
                target = runtime if ref in base_names else typing_only
                target.setdefault(where[ref], set()).add(ref)
        if any("NO_DECIMAL" in line for c in part for line in c.lines):
            runtime.setdefault(f"{PKG}.base", set()).add("NO_DECIMAL")
        uses_msgspec = any("msgspec." in line for c in part for line in c.lines)
        names = [c.name for c in part if not c.name.startswith("_")]
        more = " ..." if len(names) > 6 else ""
        doc = f"FHIR R4 datatypes, part {index}: {', '.join(names[:6])}{more}."
        text = render_module(doc, part, imports_block(runtime, typing_only, uses_msgspec), names)
        write(out / "datatypes" / f"_part{index}.py", text)
    _write_datatypes_init(out, parts, public)
    return [*public, *QUANTITY_PROFILES]


def _write_datatypes_init(out: Path, parts: list[list[Chunk]], public: list[str]) -> None:
    lines = [
        HEADER + '"""Every FHIR R4 datatype (and its elements) as a msgspec Struct.',
        "",
        "The datatypes refer to one another in a circle (every element may carry an",
        "``Extension``; an ``Extension`` may hold any datatype), so each part imports the others",
        "for type checkers only and this module binds every name into every part: msgspec",
        'resolves the annotations on the first decode, in each part\'s namespace."""',
        "",
        "from __future__ import annotations",
        "",
        "from typing import TypeAlias",
        "",
    ]
    names_by_part: dict[int, list[str]] = {}
    for index, part in enumerate(parts, 1):
        names_by_part[index] = [c.name for c in part if not c.name.startswith("_")]
        lines.append(f"from {DATATYPES_PKG} import _part{index}")
    for index, names in names_by_part.items():
        if names:
            lines.append(f"from {DATATYPES_PKG}._part{index} import {', '.join(names)}")
    lines += [
        "",
        f"__all__ = [{', '.join(repr(n) for n in sorted([*public, *QUANTITY_PROFILES]))}]",
        "",
        "#: R4 profiles of Quantity: the same elements, so the same class.",
        "SimpleQuantity: TypeAlias = Quantity",
        "MoneyQuantity: TypeAlias = Quantity",
        "",
        "_NAMESPACE = {name: globals()[name] for name in __all__}",
        f"for _part in ({', '.join(f'_part{i}' for i in names_by_part)}):",
        "    for _name, _value in _NAMESPACE.items():",
        "        vars(_part).setdefault(_name, _value)",
    ]
    write(out / "datatypes" / "__init__.py", "\n".join(lines).replace("'", '"') + "\n")


def write_resources(
    out: Path, classes: dict[str, ClassSpec], datatypes: set[str]
) -> dict[str, str]:
    """Write ``resources/``; returns resource name -> module."""
    by_root: dict[str, list[ClassSpec]] = {}
    for spec in classes.values():
        if spec.root in RESOURCE_ROOTS:
            by_root.setdefault(spec.root, []).append(spec)
    modules: dict[str, str] = {}
    for root, specs in sorted(by_root.items()):
        specs.sort(key=lambda c: c.path)
        file = "_base" if root in ("Resource", "DomainResource") else module_name(root)
        modules[root] = f"{RESOURCES_PKG}.{file}"
    base_specs = by_root.pop("Resource") + by_root.pop("DomainResource")
    _write_resource_module(out, "_base", base_specs, datatypes, "Resource and DomainResource.")
    for root, specs in sorted(by_root.items()):
        _write_resource_module(
            out, module_name(root), specs, datatypes, f"FHIR R4 {root}: {classes[root].doc}"
        )
    write(out / "resources" / "__init__.py", HEADER + '"""One module per FHIR R4 resource."""\n')
    return modules


def _write_resource_module(
    out: Path, file: str, specs: list[ClassSpec], datatypes: set[str], doc: str
) -> None:
    """One module; a resource too big for one is split: its backbones go to ``file_2`` ..."""
    chunks = [c for spec in specs for c in chunks_for(spec, MAX_LINES - 40)]
    root = specs[0].root
    main = [c for c in chunks if c.name == root or c.name.startswith(f"_{root}Part")]
    rest = [c for c in chunks if c not in main]
    used = sum(c.cost for c in main) + 40
    if used + sum(c.cost for c in rest) <= MAX_LINES:
        groups = [main + rest]
    else:
        groups = [main, *_pack(rest, MAX_LINES - 40)]
    files = [file] + [f"{file}_{i}" for i in range(2, len(groups) + 1)]
    where = {c.name: f"{RESOURCES_PKG}.{f}" for f, g in zip(files, groups, strict=True) for c in g}
    for index, (name, group) in enumerate(zip(files, groups, strict=True)):
        extras = list(zip(files[1:], groups[1:], strict=True)) if index == 0 else []
        _write_resource_part(out, name, group, where, datatypes, doc, extras)


def _write_resource_part(
    out: Path,
    file: str,
    chunks: list[Chunk],
    where: dict[str, str],
    datatypes: set[str],
    doc: str,
    extras: list[tuple[str, list[Chunk]]],
) -> None:
    me = f"{RESOURCES_PKG}.{file}"
    bases = {c.base for c in chunks}
    runtime: dict[str, set[str]] = {}
    typing_only: dict[str, set[str]] = {}
    for chunk in chunks:
        for ref in chunk.refs | {chunk.base}:
            if where.get(ref) == me:
                continue
            if ref in MIXIN_MODULES:
                runtime.setdefault(MIXIN_MODULES[ref], set()).add(ref)
            elif ref in BASE_NAMES:
                runtime.setdefault(f"{PKG}.base", set()).add(ref)
            elif ref == "AnyResource":
                typing_only.setdefault(f"{RESOURCES_PKG}._any", set()).add(ref)
            elif ref in ("Resource", "DomainResource"):
                runtime.setdefault(f"{RESOURCES_PKG}._base", set()).add(ref)
            elif ref in datatypes or ref in ("Element", "BackboneElement"):
                runtime.setdefault(DATATYPES_PKG, set()).add(ref)
            elif ref in where:
                # The main module imports its parts; a part names the rest for type checkers.
                target = runtime if (ref in bases or extras != []) else typing_only
                target.setdefault(where[ref], set()).add(ref)
            else:
                raise RuntimeError(f"{file}: unknown reference {ref}")
    tail: list[str] = []
    if extras:
        for name, group in extras:
            module = f"{RESOURCES_PKG}.{name}"
            runtime.setdefault(module, set()).update(c.name for c in group)
        tail = [
            "# The parts name this module's classes for type checkers only: bind them there.",
            f"for _part in ({', '.join(f'_{n}' for n, _ in extras)},):",
            "    for _name in __all__:",
            "        vars(_part).setdefault(_name, globals()[_name])",
        ]
        for name, _ in extras:
            runtime.setdefault(RESOURCES_PKG, set()).add(f"{name} as _{name}")
    if any("NO_DECIMAL" in line for c in chunks for line in c.lines):
        runtime.setdefault(f"{PKG}.base", set()).add("NO_DECIMAL")
    uses_msgspec = any("msgspec." in line for c in chunks for line in c.lines)
    names = [c.name for c in chunks if not c.name.startswith("_")]
    if extras:
        names += [c.name for _, g in extras for c in g if not c.name.startswith("_")]
    text = render_module(
        doc, chunks, imports_block(runtime, typing_only, uses_msgspec), names, tail
    )
    if text.count("\n") > MAX_LINES:
        raise RuntimeError(f"{file}: {text.count(chr(10))} lines; split it")
    write(out / "resources" / f"{file}.py", text)
