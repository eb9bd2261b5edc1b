"""PHI scanner throughput: characters per second of ``carecast.compliance.phi.scan``, one core.

The corpus is built here, from a fixed seed: hospital posts of many kinds (events with the
hospital's address and phone, health education with scores and codes, patient stories with
names, dates, record numbers and addresses, staff news, plain text), names drawn from the
scanner's own census lexicons. Lexicons load before timing (the first scan loads them once
per process). CPU time of this process is the figure, so other work on the machine counts
less; wall time is shown beside it. Run: ``python benchmarks/bench_phi.py``.
"""

from __future__ import annotations

import random
import statistics
import subprocess
import sys
import time
from importlib import resources

from _common import Row, table

from carecast.compliance import phi

TARGET = 1_750_000  # characters per second
STARTUP_MS = 50  # loading the lexicons, once per process
STARTUP_MIB = 30
POSTS = 3000
PASSES = 5

_TEMPLATES = [
    "Free flu shots this {day} from 9 a.m. to 1 p.m. at Riverside General Hospital, 1200 River "
    "Road, Springfield. Questions? Call (555) 010-2000. #FluSeason",
    "Heart Health Month: Dr. {first} {last} explains how your CHA2DS2-VASc score guides stroke "
    "prevention. An HbA1c of 6.5% or more, ICD-10 E11.9, means type 2 diabetes.",
    "Meet {first} {last}, our patient of the month! {first} was admitted on {date} after a fall "
    "and is walking again. Thank you to the whole 4 West team.",
    "Patient {first} {last}, MRN {mrn}, DOB {date}, lives at {num} {street} Street, {city}. "
    "Call {phone} before discharge.",
    "Congratulations to {first} {last}, RN, on 25 years with our NICU family!",
    "Our COVID-19 Vaccine Clinic Is Now Open Every Tuesday In The Main Lobby. Walk-ins welcome, "
    "10:30 to 4:15.",
    "Happy 94th birthday to {first}, who still volunteers at our gift shop every {day}.",
    "Read the study: https://news.example.org/research/{mrn} and share your questions with "
    "{email}.",
    "Blood pressure under 120/80 is normal. Aim for 150 minutes of exercise a week and 7 hours "
    "of sleep; ask your doctor about statins.",
    "{first} {last} from {city} thanks the ICU nurses who cared for her husband in room {room}.",
]
_STREETS = ["Maple", "Oak", "Cedar", "Lincoln", "Washington", "Hillcrest", "Lakeview"]
_CITIES = ["Springfield", "Riverside", "Fairview", "Georgetown", "Madison", "Clinton"]
_DAYS = ["Monday", "Tuesday", "Saturday", "Sunday"]


def corpus(seed: int = 7) -> list[str]:
    """``POSTS`` hospital posts from the templates, filled at random."""
    rng = random.Random(seed)
    data = resources.files("carecast.compliance").joinpath("data")
    firsts = data.joinpath("first_names.txt").read_text("utf-8").split()
    lasts = data.joinpath("last_names.txt").read_text("utf-8").split()[:5000]
    posts = []
    for _ in range(POSTS):
        template = rng.choice(_TEMPLATES)
        posts.append(template.format(
            first=rng.choice(firsts).title(), last=rng.choice(lasts).title(),
            date=f"{rng.randint(1, 12)}/{rng.randint(1, 28)}/{rng.randint(1930, 2010)}",
            mrn=rng.randint(10**7, 10**8 - 1), num=rng.randint(1, 9999),
            street=rng.choice(_STREETS), city=rng.choice(_CITIES), day=rng.choice(_DAYS),
            phone=f"({rng.randint(201, 989)}) {rng.randint(201, 989)}-{rng.randint(0, 9999):04d}",
            email=f"{rng.choice(firsts).lower()}.{rng.choice(lasts).lower()}@example.com",
            room=rng.randint(100, 899)))
    return posts


def measure(posts: list[str]) -> tuple[float, float, int]:
    """Median CPU and wall seconds of ``PASSES`` passes over ``posts``; spans found."""
    phi.scan(posts[0])  # loads the lexicons: not throughput
    cpu, wall, spans = [], [], 0
    for _ in range(PASSES):
        c0, w0 = time.process_time(), time.perf_counter()
        spans = sum(len(phi.scan(post)) for post in posts)
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return statistics.median(cpu), statistics.median(wall), spans


_STARTUP = (  # resident memory from /proc (Linux): what the process holds after loading
    "import os, time\n"
    "from carecast.compliance import phi\n"
    "def rss(): return int(open('/proc/self/statm').read().split()[1]) * os.sysconf("
    "'SC_PAGE_SIZE')\n"
    "before = rss()\n"
    "start = time.process_time()\n"
    "phi.warm()\n"
    "ms = (time.process_time() - start) * 1000\n"
    "print(ms, (rss() - before) / 2**20)\n"
)


def startup() -> tuple[float, float]:
    """CPU milliseconds and MiB of resident memory a fresh process spends on the lexicons
    (the median of five processes)."""
    runs = [tuple(map(float, subprocess.run(
        [sys.executable, "-c", _STARTUP], capture_output=True, text=True, check=True
    ).stdout.split())) for _ in range(5)]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def run() -> list[Row]:
    posts = corpus()
    chars = sum(map(len, posts))
    cpu, wall, spans = measure(posts)
    load_ms, load_mib = startup()
    return [
        Row("phi", f"scan, {POSTS} posts, {chars:,} chars: CPU time, median of {PASSES}",
            f"{chars / cpu:,.0f} chars/s", f">= {TARGET:,} chars/s", chars / cpu >= TARGET),
        Row("phi", "scan: wall time (other work on the machine counts)",
            f"{chars / wall:,.0f} chars/s"),
        Row("phi", "scan: per post, CPU", f"{cpu / POSTS * 1e6:.1f} us"),
        Row("phi", "spans found per pass", f"{spans}"),
        Row("phi", "start-up: loading the lexicons in a fresh process, CPU",
            f"{load_ms:.1f} ms", f"<= {STARTUP_MS} ms", load_ms <= STARTUP_MS),
        Row("phi", "start-up: resident memory the lexicons add",
            f"{load_mib:.1f} MiB", f"<= {STARTUP_MIB} MiB", load_mib <= STARTUP_MIB),
    ]


if __name__ == "__main__":
    print(table(run()))
