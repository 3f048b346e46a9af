#!/usr/bin/env python3
"""wsguard's scrubber against datafog-core (PyPI `datafog-core`, a Rust core
behind PyO3) on the same frames, interleaved in one run.

    cargo build --release --example scrub --example pii_corpus
    target/release/examples/pii_corpus 20000 11 > /tmp/frames.jsonl
    pip install datafog-core
    python3 benches/compare/vs_datafog.py /tmp/frames.jsonl [ROUNDS]

Each round times datafog-core's `scan_and_transform` (its default entities,
redaction) over every frame in this process (three passes, the fastest
kept, as Python's own `timeit` advises), then runs `examples/scrub` (every
built-in kind, redaction) over the same file and reads the throughput it
reports over the scrubbing alone. Rounds alternate, so both see the same
machine; the medians and their ratio are printed. Both are single-threaded.
"""

import json
import os
import re
import statistics
import subprocess
import sys
import time

import datafog_core


# Redaction of every default entity, as `examples/scrub` redacts every kind.
REDACT = {"transform": {"default": {"strategy": "redact"}}}


def datafog_mb_s(frames, total):
    best = None
    for _ in range(3):
        start = time.perf_counter()
        for f in frames:
            datafog_core.scan_and_transform(f, REDACT)
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    return total / best / 1e6


def wsguard_mb_s(path, scrub):
    with open(path, "rb") as stdin:
        run = subprocess.run([scrub], stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True)
    return float(re.search(rb"([0-9.]+) MB/s", run.stderr).group(1))


def main():
    path = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    scrub = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target")), "release", "examples", "scrub")
    with open(path, encoding="utf-8") as f:
        frames = [json.loads(line) for line in f if line.strip()]
    total = sum(len(f.encode()) for f in frames)
    found = sum(len(datafog_core.scan(f)) for f in frames)
    print(f"{len(frames)} frames, {total} bytes; datafog-core {datafog_core.capabilities()['contract_version']} finds {found} values")
    ours, theirs = [], []
    for k in range(rounds):
        theirs.append(datafog_mb_s(frames, total))
        ours.append(wsguard_mb_s(path, scrub))
        print(f"round {k + 1}: datafog-core {theirs[-1]:.1f} MB/s, wsguard {ours[-1]:.1f} MB/s")
    a, b = statistics.median(ours), statistics.median(theirs)
    print(f"median: wsguard {a:.1f} MB/s, datafog-core {b:.1f} MB/s, ratio {a / b:.1f}x")


if __name__ == "__main__":
    main()
