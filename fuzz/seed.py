#!/usr/bin/env python3
"""Seeds fuzz/corpus/<target>/ for every fuzz target from grammar/valid.txt,
grammar/invalid.txt and the shared hostile-input corpus (../shared/bad-inputs), one
file per input. Inputs over 4 KiB (the generated 100,000-character cases) are left out:
they only slow the fuzzer down, and the bad-input test runs them anyway.

    python3 fuzz/seed.py        # from the repository root
"""
import hashlib
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGETS = ["parse", "roundtrip"]
MAX_LEN = 4096


def grammar_inputs():
    with open(os.path.join(ROOT, "grammar", "valid.txt"), encoding="utf-8") as fh:
        for line in fh:
            if line.strip() and not line.startswith("#"):
                # The comment after the input says why it is there.
                yield line.split("  #")[0].strip().encode()
    with open(os.path.join(ROOT, "grammar", "invalid.txt"), encoding="utf-8") as fh:
        for line in fh:
            if line.strip() and not line.startswith("#"):
                yield line.rstrip("\n").rsplit("\t", 1)[0].encode()


def bad_inputs():
    here = os.path.join(ROOT, "..", "shared", "bad-inputs")
    if not os.path.exists(os.path.join(here, "bad_inputs.py")):
        print("shared/bad-inputs not found beside the checkout: seeding from grammar/ only", file=sys.stderr)
        return
    sys.path.insert(0, here)
    import bad_inputs  # noqa: E402

    for case in bad_inputs.load():
        if case.data is not None:
            yield case.data


def main():
    inputs = [d for d in list(grammar_inputs()) + list(bad_inputs()) if len(d) <= MAX_LEN]
    for t in TARGETS:
        d = os.path.join(ROOT, "fuzz", "corpus", t)
        os.makedirs(d, exist_ok=True)
        for data in inputs:
            with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as fh:
                fh.write(data)
    print(f"{len(inputs)} seed inputs for each of {', '.join(TARGETS)}")


if __name__ == "__main__":
    main()
