"""The HTML report in headless Chromium: the charts are drawn, and the page asks nothing of
the network. Every host name resolves to a local server that serves the page and records
what it is asked; a request the page made carries the page as its referrer (the browser's
own background calls, its clock and updates, carry none and are not the page's).

Needs Debian's ``chromium`` package; skipped without it. ``CARECAST_WRITE_SCREENSHOTS=1``
writes ``docs/images/metrics-report.png``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image

from carecast.metrics import Collector, MetricsView
from carecast.report import build_report, report_html

from ._demo import PERIOD, demo

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


PAGE_HOST = "report.carecast.test"


class Recorder(BaseHTTPRequestHandler):
    page = b""
    asked: list[tuple[str, str, str]] = []

    def do_GET(self) -> None:
        host = self.headers.get("Host", "")
        self.asked.append((host, self.path, self.headers.get("Referer", "")))
        if host.startswith(PAGE_HOST) and self.path == "/report.html":
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(self.page)
            return
        self.send_response(404)
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


@pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CARECAST_TEST_REQUIRE_CHROMIUM"),
                    reason="headless Chromium is not installed (apt-get install -y chromium)")
def test_the_report_draws_its_charts_offline(tmp_path: Path) -> None:
    assert CHROMIUM is not None
    pub, clock = demo(tmp_path)
    with pub:
        report = build_report(MetricsView(Collector(pub).store), pub.config, now=clock.now(),
                              brand="riverside", start=PERIOD.date(),
                              end=PERIOD.date() + timedelta(days=28))
    Recorder.page = report_html(report).encode()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Recorder.asked = []
    port = server.server_address[1]
    url = f"http://{PAGE_HOST}/report.html"
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--hide-scrollbars", f"--host-resolver-rules=MAP * 127.0.0.1:{port}"]
    try:
        dom = subprocess.run([*flags, "--dump-dom", url], capture_output=True,
                             text=True, timeout=120, check=False).stdout
        png = tmp_path / "report.png"
        done = subprocess.run([*flags, f"--screenshot={png}", "--window-size=1280,1500",
                               url], capture_output=True, text=True, timeout=120,
                              check=False)
    finally:
        server.shutdown()
        server.server_close()
    # the browser built four charts, each with its drawn marks
    charts = re.findall(r'<figure class="chart" id="chart-(\w+)">(.*?)</figure>', dom, re.S)
    assert [name for name, _svg in charts] == ["channels", "followers", "decay", "times"]
    for name, svg in charts:
        assert svg.lstrip().startswith("<svg"), name
        assert len(re.findall(r"<(?:rect|path|circle)\b", svg)) > 5, name
    pages = [a for a in Recorder.asked if a[:2] == (PAGE_HOST, "/report.html")]
    assert len(pages) == 2  # the page itself, once per run: the mapping works
    assert [a for a in Recorder.asked if a[2]] == []  # the page fetched nothing more
    assert png.is_file(), done.stderr[-2000:]
    with Image.open(png) as shot:
        rgb = shot.convert("RGB")
        assert rgb.getpixel((5, 5)) == (11, 79, 108)  # the header's colour: styles applied
        raw = rgb.tobytes()
    colours = {raw[i:i + 3] for i in range(0, len(raw), 3)}
    assert bytes((32, 163, 158)) in colours  # the second series' colour: the bars were drawn
    if os.environ.get("CARECAST_WRITE_SCREENSHOTS"):  # how docs/images/metrics-report.png is made
        target = Path(__file__).parents[2] / "docs" / "images" / "metrics-report.png"
        target.write_bytes(png.read_bytes())
