"""Write the modules that name everything: the resource union, the name table, the exports."""

from __future__ import annotations

from pathlib import Path

from tools.fhir_codegen.emit import DATATYPES_PKG, HEADER, RESOURCES_PKG, write


def write_any(out: Path, resources: dict[str, str], binds: list[str]) -> None:
    """``resources/_any.py``: the union of every concrete resource, bound where it is used."""
    concrete = sorted(r for r in resources if r not in ("Resource", "DomainResource"))
    lines = [
        HEADER
        + '"""``AnyResource``: every FHIR R4 resource, one tagged union on ``resourceType``.',
        "",
        "Importing this module loads every resource module. It then binds the union into the",
        "modules whose elements hold any resource (``DomainResource.contained``, a Bundle's",
        "entries, a Parameters value), which name it for type checkers only: msgspec resolves",
        'their annotations on the first decode."""',
        "",
        "from __future__ import annotations",
        "",
        "from typing import TypeAlias, get_args",
        "",
    ]
    lines += [f"from {RESOURCES_PKG} import {', '.join(sorted(binds))}"]
    lines += [f"from {resources[r]} import {r}" for r in concrete]
    lines += ["", '__all__ = ["RESOURCE_TYPES", "AnyResource"]', ""]
    lines += ["#: Any FHIR R4 resource (decodes by its ``resourceType``)."]
    lines += ["AnyResource: TypeAlias = (", *(f"    {r} |" for r in concrete[:-1])]
    lines += [f"    {concrete[-1]}", ")", ""]
    lines += ["#: Every resource class by its ``resourceType``."]
    lines += ["RESOURCE_TYPES: dict[str, type[Resource]] = {"]
    lines += ["    cls.__name__: cls for cls in get_args(AnyResource)", "}", ""]
    lines += [f"for _module in ({', '.join(sorted(binds))},):"]
    lines += ['    vars(_module)["AnyResource"] = AnyResource']
    text = "\n".join(lines) + "\n"
    text = text.replace(
        f"from {RESOURCES_PKG} import {', '.join(sorted(binds))}",
        f"from {RESOURCES_PKG} import {', '.join(sorted(binds))}\n"
        f"from {RESOURCES_PKG}._base import Resource",
    )
    write(out / "resources" / "_any.py", text)


def write_names(out: Path, resources: dict[str, str], datatypes: list[str]) -> None:
    """``_names.py``: the table the lazy loader reads (no model is imported by it)."""
    lines = [
        HEADER + '"""The public FHIR names and the modules that define them (read lazily)."""',
        "",
        "from __future__ import annotations",
        "",
        '__all__ = ["DATATYPES", "DATATYPES_MODULE", "RESOURCES", "RESOURCES_PACKAGE"]',
        "",
        f'DATATYPES_MODULE = "{DATATYPES_PKG}"',
        f'RESOURCES_PACKAGE = "{RESOURCES_PKG}"',
        "",
        "#: Every datatype (and datatype element) name, all in the datatypes package.",
        "DATATYPES: frozenset[str] = frozenset(",
        "    (",
        *(f'        "{d}",' for d in sorted(datatypes)),
        "    )",
        ")",
        "",
        "#: Every resource name -> its module under the resources package.",
        "RESOURCES: dict[str, str] = {",
        *(f'    "{r}": "{m.rsplit(".", 1)[-1]}",' for r, m in sorted(resources.items())),
        "}",
    ]
    write(out / "_names.py", "\n".join(lines) + "\n")


def write_exports(out: Path, resource_modules: list[str]) -> None:
    """``_exports.py``: every public name, for type checkers (imported under TYPE_CHECKING)."""
    lines = [
        HEADER
        + '"""Every public FHIR name, for type checkers only (loading it loads everything)."""',
        "",
        "from __future__ import annotations",
        "",
        f"from {DATATYPES_PKG} import *  # noqa: F403",
        f"from {RESOURCES_PKG}._any import *  # noqa: F403",
        *(f"from {m} import *  # noqa: F403" for m in sorted(set(resource_modules))),
    ]
    write(out / "_exports.py", "\n".join(lines) + "\n")
