"""Generate ``satusehat_async/fhir/`` from the official FHIR R4 StructureDefinitions.

    python -m tools.fhir_codegen [--package DIR] [--out satusehat_async/fhir]

Without ``--package`` it fetches ``hl7.fhir.r4.examples@4.0.1`` with ``npm pack`` (the
package ships ``StructureDefinition-*.json`` for every resource and datatype; CC0-1.0).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from tools.fhir_codegen import layout
from tools.fhir_codegen.model import Builder, load_definitions
from tools.fhir_codegen.registry import write_any, write_exports, write_names

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_SPEC = "hl7.fhir.r4.examples@4.0.1"


def fetch_package(workdir: Path) -> Path:
    """``npm pack`` the examples package into ``workdir``; returns its ``package/`` dir."""
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("npm is needed to fetch the package (or pass --package DIR)")
    done = subprocess.run(  # noqa: S603 - fixed arguments
        [npm, "pack", PACKAGE_SPEC, "--silent"],
        cwd=workdir,
        check=True,
        capture_output=True,
        text=True,
    )
    tgz = workdir / done.stdout.strip().splitlines()[-1]
    with tarfile.open(tgz) as archive:
        archive.extractall(workdir, filter="data")
    return workdir / "package"


def generate(package: Path, out: Path) -> None:
    classes = Builder(load_definitions(package)).build()
    layout.RESOURCE_ROOTS.update(
        c.root
        for c in classes.values()
        if c.kind == "resource" or c.root in ("Resource", "DomainResource")
    )
    for stale in ("datatypes", "resources"):
        shutil.rmtree(out / stale, ignore_errors=True)
    datatypes = layout.write_datatypes(out, classes)
    modules = layout.write_resources(out, classes, set(datatypes))
    binds = sorted(
        m.rsplit(".", 1)[-1]
        for m in {modules[c.root] for c in classes.values() if c.root in modules}
        if "AnyResource" in (out / "resources" / f"{m.rsplit('.', 1)[-1]}.py").read_text()
    )
    write_any(out, modules, binds)
    backbone_names = sorted(c.name for c in classes.values() if c.root in modules)
    _check_prefixes(backbone_names, modules)
    write_names(out, modules, datatypes)
    write_exports(out, list(modules.values()))
    ruff = ROOT / ".venv" / "bin" / "ruff"
    files = [
        str(out / "datatypes"),
        str(out / "resources"),
        str(out / "_names.py"),
        str(out / "_exports.py"),
    ]
    subprocess.run([str(ruff), "format", "--quiet", *files], check=True)  # noqa: S603
    subprocess.run([str(ruff), "check", "--fix", "--quiet", *files], check=True)  # noqa: S603
    subprocess.run([str(ruff), "format", "--quiet", *files], check=True)  # noqa: S603
    count_r = sum(1 for c in classes.values() if c.kind == "resource")
    print(
        f"{count_r} resources, {len(datatypes)} datatype names, {len(classes)} classes",
        file=sys.stderr,
    )


def _check_prefixes(names: list[str], modules: dict[str, str]) -> None:
    """The loader finds a backbone's module by the longest resource name it starts with."""
    roots = sorted(modules, key=len, reverse=True)
    for name in names:
        owner = next(r for r in roots if name.startswith(r))
        if name not in modules and not owner:
            raise RuntimeError(name)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.fhir_codegen")
    parser.add_argument("--package", type=Path, help="an unpacked hl7.fhir.r4.examples package/")
    parser.add_argument("--out", type=Path, default=ROOT / "satusehat_async" / "fhir")
    args = parser.parse_args(argv)
    if args.package:
        generate(args.package, args.out)
        return
    with tempfile.TemporaryDirectory() as tmp:
        generate(fetch_package(Path(tmp)), args.out)


if __name__ == "__main__":
    main()
