"""Every finding of the PHI scanner on a fixed body of texts, one line per text, for checking
that a change to the scanner leaves its output byte-identical.

The texts: the throughput corpus of ``bench_phi.py``, the development and held-out sets, the
string literals of the PHI tests, and presidio-research's ``synth_dataset_v2.json`` when it is
present; each also in lower and upper case. Each is scanned twice: alone, and with the dev
set's brand terms allowed. Run::

    python benchmarks/phi_snapshot.py > /tmp/phi-before.txt
    # change the scanner
    python benchmarks/phi_snapshot.py | cmp - /tmp/phi-before.txt
"""

from __future__ import annotations

import ast
import json
import sys
from collections.abc import Iterator

from _common import ROOT
from bench_phi import corpus
from phi_presidio import DATA_SET

from carecast.compliance import phi

sys.path.insert(0, str(ROOT / "tests" / "compliance"))
from phi_devset import brand_terms, devset, holdout


def _test_strings() -> Iterator[str]:
    for path in sorted((ROOT / "tests" / "compliance").glob("test_phi*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                    len(node.value) < 5000:
                yield node.value


def texts() -> list[str]:
    """The texts, in a fixed order (duplicates kept: their order is part of the check)."""
    base = corpus()
    base += [str(row["text"]) for row in devset() + holdout()]
    base += list(_test_strings())
    if DATA_SET.exists():
        base += [str(row["full_text"]) for row in json.loads(DATA_SET.read_text("utf-8"))]
    return [variant for text in base for variant in (text, text.lower(), text.upper())]


def main() -> None:
    allow = brand_terms()
    out = sys.stdout
    for text in texts():
        plain = ";".join(f"{s.category},{s.start},{s.end},{s.confidence!r}"
                         for s in phi.scan(text))
        allowed = ";".join(f"{s.category},{s.start},{s.end},{s.confidence!r}"
                           for s in phi.scan(text, allow))
        out.write(f"{plain}|{allowed}|{int(phi.patient_context(text))}\n")


if __name__ == "__main__":
    main()
