"""Decode and encode FHIR R4 JSON: our generated models vs fhir.resources vs raw msgspec.

    .venv/bin/python benchmarks/bench_fhir_models.py [--rounds 15]

Two workloads: the HL7 R4 examples (tests/fixtures/fhir_examples, the ones fhir.resources'
R4B models also accept, so every contender does the same work) and a search Bundle of
1,000 Observations. Contenders: ``satusehat_async.fhir`` (msgspec Structs, typed),
``fhir.resources`` (pydantic v2, the models users would reach for; the ``bench`` extra)
and ``msgspec.json.decode`` to plain dicts (the floor: no types at all). Each round runs
every contender once, in a rotating order (interleaved pairs); we print the median time,
its spread (min-max), and the median of the per-round ratios to ours.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import msgspec

from satusehat_async.fhir import Bundle, decode_resource

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "fhir_examples" / "r4-examples.ndjson.gz"
Work = Callable[[], object]


def load_examples() -> list[bytes]:
    from fhir.resources.R4B import get_fhir_model_class

    accepted = []
    for line in gzip.decompress(FIXTURE.read_bytes()).splitlines():
        kind = json.loads(line)["resourceType"]
        try:
            get_fhir_model_class(kind).model_validate_json(line)
        except Exception:  # an R4 example that R4B's models reject: left out for all
            continue
        accepted.append(line)
    return accepted


def search_bundle(examples: list[bytes], count: int = 1000) -> bytes:
    observation = next(json.loads(x) for x in examples if b'"id":"blood-pressure"' in x[:80])
    entries = []
    for i in range(count):
        resource = dict(observation, id=f"obs-{i}")
        entries.append(
            {
                "fullUrl": f"https://example.org/Observation/obs-{i}",
                "resource": resource,
                "search": {"mode": "match"},
            }
        )
    return json.dumps(
        {"resourceType": "Bundle", "type": "searchset", "total": count, "entry": entries}
    ).encode()


def contenders(examples: list[bytes], bundle: bytes) -> dict[str, dict[str, Work]]:
    from fhir.resources.R4B import get_fhir_model_class
    from fhir.resources.R4B.bundle import Bundle as PydanticBundle

    kinds = [get_fhir_model_class(json.loads(x)["resourceType"]) for x in examples]
    ours = [decode_resource(x) for x in examples]
    theirs = [k.model_validate_json(x) for k, x in zip(kinds, examples, strict=True)]
    dicts = [msgspec.json.decode(x) for x in examples]
    our_bundle = msgspec.json.decode(bundle, type=Bundle)
    their_bundle = PydanticBundle.model_validate_json(bundle)
    dict_bundle = msgspec.json.decode(bundle)
    encode = msgspec.json.encode
    return {
        "examples decode": {
            "ours": lambda: [decode_resource(x) for x in examples],
            "fhir.resources": lambda: [
                k.model_validate_json(x) for k, x in zip(kinds, examples, strict=True)
            ],
            "msgspec dict": lambda: [msgspec.json.decode(x) for x in examples],
        },
        "examples encode": {
            "ours": lambda: [encode(r) for r in ours],
            "fhir.resources": lambda: [r.model_dump_json(exclude_none=True) for r in theirs],
            "msgspec dict": lambda: [encode(d) for d in dicts],
        },
        "bundle(1000 Obs) decode": {
            "ours": lambda: msgspec.json.decode(bundle, type=Bundle),
            "fhir.resources": lambda: PydanticBundle.model_validate_json(bundle),
            "msgspec dict": lambda: msgspec.json.decode(bundle),
        },
        "bundle(1000 Obs) encode": {
            "ours": lambda: encode(our_bundle),
            "fhir.resources": lambda: their_bundle.model_dump_json(exclude_none=True),
            "msgspec dict": lambda: encode(dict_bundle),
        },
    }


def run(works: dict[str, Work], rounds: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in works}
    names = list(works)
    for work in works.values():  # warm up: decoders built, caches filled
        work()
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            start = time.perf_counter()
            works[name]()
            times[name].append(time.perf_counter() - start)
    return times


def report(title: str, times: dict[str, list[float]]) -> None:
    ours = times["ours"]
    print(f"\n{title}")
    for name, samples in times.items():
        ratio = statistics.median(t / o for t, o in zip(samples, ours, strict=True))
        print(
            f"  {name:15s} median {statistics.median(samples) * 1e3:9.2f} ms"
            f"  (min {min(samples) * 1e3:8.2f}, max {max(samples) * 1e3:8.2f})"
            f"  x{ratio:6.2f} of ours"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    examples = load_examples()
    bundle = search_bundle(examples)
    print(
        f"{len(examples)} HL7 examples ({sum(map(len, examples)) / 1e6:.1f} MB), "
        f"bundle {len(bundle) / 1e6:.1f} MB, {args.rounds} interleaved rounds"
    )
    for title, works in contenders(examples, bundle).items():
        report(title, run(works, args.rounds))


if __name__ == "__main__":
    main()
