"""The PHI development set (tests/data/phi_devset.jsonl) run through ``Publisher.preview``.

Each post carries ``expect``: ``block`` (a structured identifier), ``review`` (PHI a person
must look at; a BLOCK is also a stop) or ``pass`` (clean). The brand is a community hospital
with its staff roster; the settings are the defaults.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from carecast import Post, State
from carecast.config import Config
from carecast.publish import Publisher
from carecast.testing import FakeChannel, FrozenClock

DEVSET = Path(__file__).parent.parent / "data" / "phi_devset.jsonl"

BRAND = {
    "name": "Lakeside Regional Medical Center",
    "website": "https://lakesideregional.example",
    "phone": ["+1 555 010 3000", "555-010-3100", "(555) 010-3200"],
    "email": ["billing@lakesideregional.example"],
    "address": ["400 Lake Shore Drive, Millbrook"],
    "staff": ["Maria Okafor", "Daniel Reyes", "Summer Hayes", "Dawn Patel", "James Carter"],
}


def devset() -> list[dict[str, str]]:
    with DEVSET.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


@dataclass
class Result:
    row: dict[str, str]
    state: State

    @property
    def stopped(self) -> bool:
        return self.state in (State.BLOCKED, State.AWAITING_APPROVAL)


def run(rows: list[dict[str, str]]) -> list[Result]:
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
            results.append(Result(row, target.state))
    return results


def rates(results: list[Result]) -> dict[str, float]:
    leaks = [r for r in results if r.row["expect"] != "pass"]
    clean = [r for r in results if r.row["expect"] == "pass"]
    structured = [r for r in results if r.row["expect"] == "block"]
    return {
        "leaks_stopped": sum(r.stopped for r in leaks) / len(leaks),
        "clean_stopped": sum(r.stopped for r in clean) / len(clean),
        "structured_blocked": sum(r.state == State.BLOCKED for r in structured) / len(structured),
    }


if __name__ == "__main__":
    res = run(devset())
    print(rates(res))
    for r in res:
        bad = (r.row["expect"] == "pass" and r.stopped) or (
            r.row["expect"] != "pass" and not r.stopped) or (
            r.row["expect"] == "block" and r.state != State.BLOCKED)
        if bad:
            print(r.row["expect"], r.state.value, r.row["text"][:110])
