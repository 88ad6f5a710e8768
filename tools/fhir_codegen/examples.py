"""Write the committed fixture: the HL7 R4 example resources (non-conformance), gzip'd NDJSON.

    python -m tools.fhir_codegen.examples --package DIR [--out tests/fixtures/fhir_examples]

Each line is one example exactly as HL7 ships it, minified (key order kept), so tests
compare JSON values element for element. The package's licence is CC0-1.0.
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path

import msgspec

ROOT = Path(__file__).resolve().parents[2]
# Conformance and terminology resources: definitions of FHIR itself, not example data.
CONFORMANCE = frozenset(
    {
        "CapabilityStatement",
        "CodeSystem",
        "CompartmentDefinition",
        "ConceptMap",
        "ExampleScenario",
        "GraphDefinition",
        "ImplementationGuide",
        "MessageDefinition",
        "NamingSystem",
        "OperationDefinition",
        "SearchParameter",
        "StructureDefinition",
        "StructureMap",
        "TerminologyCapabilities",
        "ValueSet",
    }
)


def example_files(package: Path, *, conformance: bool = False) -> list[Path]:
    """The package's example resources (``conformance=True``: every resource in it)."""
    found = []
    for path in sorted(package.glob("*.json")):
        if path.name in ("package.json", ".index.json"):
            continue
        kind = path.name.split("-", 1)[0]
        if conformance or kind not in CONFORMANCE:
            found.append(path)
    return found


def is_example(data: object) -> bool:
    """A resource that is example data (a Bundle of definitions, like ``Bundle-types``, is not)."""
    if not isinstance(data, dict) or "resourceType" not in data:
        return False
    if data["resourceType"] in CONFORMANCE:
        return False
    if data["resourceType"] == "Bundle":
        kinds = {e.get("resource", {}).get("resourceType") for e in data.get("entry", [])}
        return not kinds or not kinds <= CONFORMANCE
    return True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.fhir_codegen.examples")
    parser.add_argument("--package", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "fixtures" / "fhir_examples")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    lines = []
    for path in example_files(args.package):
        raw = path.read_bytes()
        if is_example(json.loads(raw)):
            # Minified from the text, not re-serialized: decimals keep their digits.
            lines.append(msgspec.json.format(raw, indent=-1).decode())
    target = args.out / "r4-examples.ndjson.gz"
    with gzip.GzipFile(target, "wb", mtime=0) as out:  # mtime=0: reproducible bytes
        out.write(("\n".join(lines) + "\n").encode())
    print(f"{len(lines)} examples, {target.stat().st_size} bytes -> {target}")


if __name__ == "__main__":
    main()
