"""Recall and precision of the PHI scanner on presidio-research's synth_dataset_v2.json.

Run: ``python benchmarks/phi_presidio.py [PATH]``; without a path, the copy in the shared
reference folder beside the repository (``DATA_SET``). A labelled span is
recalled when a prediction overlaps it (any category, and its own); a prediction is precise
when it overlaps a labelled PHI span. Recall is given per group and per structured category,
precision overall and per predicted category. ORGANIZATION, TITLE and NRP are not PHI and not
scored.

Two scorings: ``as_labelled`` counts every span of the data set; ``safe_harbor`` leaves out the
labelled spans HIPAA's Safe Harbor method does not remove, which the guard leaves alone on
purpose: countries and states (only places smaller than a state are PHI), ages under 90, and
times no more precise than a year ("1977", "Tuesday", "last week"). Both are printed.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

from _common import ROOT

from carecast.compliance import phi

#: The data set, where the project's shared reference material keeps it.
DATA_SET = ROOT.parent / "shared" / "reference" / "pii" / "presidio-research" / \
    "synth_dataset_v2.json"

CATEGORY = {
    "PERSON": "NAME", "STREET_ADDRESS": "LOCATION", "GPE": "LOCATION", "ZIP_CODE": "LOCATION",
    "DATE_TIME": "DATE", "AGE": "DATE", "PHONE_NUMBER": "PHONE", "EMAIL_ADDRESS": "EMAIL",
    "US_SSN": "SSN", "IP_ADDRESS": "IP", "US_DRIVER_LICENSE": "LICENSE",
    "CREDIT_CARD": "ACCOUNT", "IBAN_CODE": "ACCOUNT", "DOMAIN_NAME": "URL",
}
STRUCTURED = {"DATE", "PHONE", "EMAIL", "SSN", "IP", "LICENSE", "ACCOUNT", "URL"}
_PRECISE_DATE = re.compile(
    r"(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)|\d{1,4}[-/.]\d{1,2}")


def safe_harbor(entity_type: str, value: str) -> bool:
    """Whether a labelled span is an identifier Safe Harbor removes."""
    if entity_type == "GPE":
        return phi._normal(value) not in phi._lexicon().not_phi_places
    if entity_type == "AGE":
        return not value.strip().isdigit() or int(value) > 89
    if entity_type == "DATE_TIME":
        return _PRECISE_DATE.search(value) is not None
    return True


def score(rows: list[dict[str, object]], only_safe_harbor: bool = False
          ) -> dict[str, dict[str, float]]:
    labelled: Counter[str] = Counter()
    hit_any: Counter[str] = Counter()
    hit_same: Counter[str] = Counter()
    predicted = precise = 0
    by_category: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0])  # predicted, precise
    for row in rows:
        text = str(row["full_text"])
        spans = [s for s in row["spans"] if s["entity_type"] in CATEGORY]  # type: ignore[attr-defined]
        gold = [(int(s["start_position"]), int(s["end_position"]), CATEGORY[s["entity_type"]])
                for s in spans]
        counted = [g for g, s in zip(gold, spans, strict=True) if not only_safe_harbor
                   or safe_harbor(s["entity_type"], s["entity_value"])]
        pred = phi.detect(text)
        for start, end, cat in counted:
            labelled[cat] += 1
            over = [p for p in pred if p[0] < end and start < p[1]]
            hit_any[cat] += bool(over)
            hit_same[cat] += any(p[2] == cat or (cat == "PHONE" and p[2] == "FAX")
                                 for p in over)
        predicted += len(pred)
        precise += sum(any(p[0] < e and s < p[1] for s, e, _ in gold) for p in pred)
        for p in pred:
            by_category[p[2]][0] += 1
            by_category[p[2]][1] += any(p[0] < e and s < p[1] for s, e, _ in gold)
    groups = {"all": set(labelled), "structured": STRUCTURED & set(labelled),
              "names": {"NAME"}, "places": {"LOCATION"},
              **{c.lower(): {c} for c in sorted(STRUCTURED & set(labelled))}}
    out: dict[str, dict[str, float]] = {}
    for group, cats in groups.items():
        n = max(1, sum(labelled[c] for c in cats))
        out[group] = {"labelled": n, "recall_any": sum(hit_any[c] for c in cats) / n,
                      "recall_same": sum(hit_same[c] for c in cats) / n}
    out["all"]["precision_any"] = precise / max(1, predicted)
    out["precision_by_predicted_category"] = {
        c: n_precise / n for c, (n, n_precise) in sorted(by_category.items())}
    return out


def load(path: Path = DATA_SET) -> list[dict[str, object]]:
    """The rows of the data set at ``path``; a clear error when it is absent."""
    if not path.is_file():
        raise SystemExit(f"phi_presidio: no data set at {path}; pass the path of "
                         "presidio-research's data/synth_dataset_v2.json as the argument")
    rows: list[dict[str, object]] = json.loads(path.read_text("utf-8"))
    return rows


if __name__ == "__main__":
    rows = load(Path(sys.argv[1]) if len(sys.argv) > 1 else DATA_SET)
    print(json.dumps({"as_labelled": score(rows), "safe_harbor": score(rows, True)}, indent=1))
