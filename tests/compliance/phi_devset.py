"""The PHI development set (tests/data/phi_devset.jsonl) run through ``Publisher.preview``.

Each post carries ``expect``: ``block`` (a structured identifier), ``review`` (PHI a person
must look at; a BLOCK is also a stop) or ``pass`` (clean). The brand is a community hospital
with its staff roster; the settings are the defaults.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from carecast import Post, State
from carecast.compliance.phi import DETECT_MIN, scan
from carecast.config import Config
from carecast.publish import Publisher
from carecast.testing import FakeChannel, FrozenClock

DATA = Path(__file__).parent.parent / "data"
DEVSET = DATA / "phi_devset.jsonl"
HOLDOUT = DATA / "phi_holdout.jsonl"

BRAND = {
    "name": "Lakeside Regional Medical Center",
    "website": "https://lakesideregional.example",
    "phone": ["+1 555 010 3000", "555-010-3100", "(555) 010-3200"],
    "email": ["billing@lakesideregional.example"],
    "address": ["400 Lake Shore Drive, Millbrook"],
    "staff": ["Maria Okafor", "Daniel Reyes", "Summer Hayes", "Dawn Patel", "James Carter"],
}


def devset(path: Path = DEVSET) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def holdout() -> list[dict[str, Any]]:
    return devset(HOLDOUT)


def brand_terms() -> tuple[str, ...]:
    """What the guard allows for the brand: its name, site, numbers, addresses and staff."""
    return tuple(str(v) for key in ("name", "website", "phone", "email", "address", "staff")
                 for v in (BRAND[key] if isinstance(BRAND[key], list) else [BRAND[key]]))


def group(category: str) -> str:
    return {"NAME": "names", "LOCATION": "places"}.get(category, "structured")


def scanner_scores(rows: list[dict[str, Any]]) -> dict[str, float]:
    """The scanner's recall per group (names, places, structured) on the labelled spans of
    the leaking posts, and its precision there: a span found at ``DETECT_MIN`` or more that
    overlaps no label counts against it (a clinician not on the roster included). The brand's
    own terms are allowed, as the guard allows them."""
    allow = brand_terms()
    labelled: Counter[str] = Counter()
    hit: Counter[str] = Counter()
    predicted = precise = 0
    for row in rows:
        if row["expect"] == "pass":
            continue
        gold = [(int(s), int(e), str(c)) for s, e, c in row["spans"]]
        found = [s for s in scan(row["text"], allow=allow) if s.confidence >= DETECT_MIN]
        for start, end, category in gold:
            labelled[group(category)] += 1
            hit[group(category)] += any(f.start < end and start < f.end for f in found)
        predicted += len(found)
        precise += sum(any(f.start < e and s < f.end for s, e, _ in gold) for f in found)
    scores = {f"recall_{g}": hit[g] / labelled[g] for g in labelled}
    scores["precision"] = precise / max(1, predicted)
    return scores


@dataclass
class Result:
    row: dict[str, Any]
    state: State

    phi_actions: tuple[str, ...] = ()

    @property
    def stopped(self) -> bool:
        return self.state in (State.BLOCKED, State.AWAITING_APPROVAL)

    @property
    def stopped_by_phi(self) -> bool:
        """Held or blocked by the PHI guard itself (other checks, such as advice, may also
        hold a post)."""
        return any(action in ("block", "review") for action in self.phi_actions)


def run(rows: list[dict[str, Any]]) -> list[Result]:
    config = Config.from_dict({
        "store": {"url": "sqlite:///:memory:"},
        "brands": {"lakeside": BRAND},
        "accounts": {"web": {"channel": "fake", "brand": "lakeside"}},
    }, environ={})
    results = []
    with Publisher(config, entry_point_plugins=False, channel_classes={"fake": FakeChannel},
                   clock=FrozenClock()) as publisher:
        for row in rows:
            [target] = publisher.preview(Post(text=row["text"])).targets
            results.append(Result(row, target.state, tuple(
                f.action.value for f in target.findings if f.check == "phi")))
    return results


def rates(results: list[Result]) -> dict[str, float]:
    leaks = [r for r in results if r.row["expect"] != "pass"]
    clean = [r for r in results if r.row["expect"] == "pass"]
    structured = [r for r in results if r.row["expect"] == "block"]
    return {
        "leaks_stopped": sum(r.stopped for r in leaks) / len(leaks),
        "clean_stopped": sum(r.stopped for r in clean) / len(clean),
        "structured_blocked": sum(r.state == State.BLOCKED for r in structured) / len(structured),
        "leaks_stopped_by_phi": sum(r.stopped_by_phi for r in leaks) / len(leaks),
        "clean_stopped_by_phi": sum(r.stopped_by_phi for r in clean) / len(clean),
    }


if __name__ == "__main__":  # python -m tests.compliance.phi_devset [holdout]
    rows = holdout() if sys.argv[1:] == ["holdout"] else devset()
    res = run(rows)
    print(rates(res))
    if all("spans" in r for r in rows):
        print(scanner_scores(rows))
    for r in res:
        bad = (r.row["expect"] == "pass" and r.stopped) or (
            r.row["expect"] != "pass" and not r.stopped) or (
            r.row["expect"] == "block" and r.state != State.BLOCKED)
        if bad:
            print(r.row["expect"], r.state.value, r.row["text"][:110])
