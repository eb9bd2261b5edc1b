"""The PHI scoring tool in benchmarks/: it finds the reference data set, or says what to pass."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "benchmarks" / "phi_presidio.py"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          cwd=ROOT / "benchmarks", timeout=120, check=False)


def test_without_a_path_it_reads_the_shared_reference_copy_beside_the_repository() -> None:
    out = run("-c", "import phi_presidio; print(phi_presidio.DATA_SET)")
    assert out.returncode == 0, out.stderr
    expected = ROOT.parent / "shared/reference/pii/presidio-research/synth_dataset_v2.json"
    assert Path(out.stdout.strip()) == expected


def test_a_missing_data_set_is_a_clear_error_naming_the_path_and_the_fix() -> None:
    out = run(str(TOOL), "/nonexistent/synth.json")
    assert out.returncode == 1
    assert "no data set at /nonexistent/synth.json" in out.stderr
    assert "synth_dataset_v2.json as the argument" in out.stderr
    assert "Traceback" not in out.stderr
