"""The built Snakemake report renders in headless Chromium with every figure visible.

Checks the report of the end-to-end .test run, or the one DRSCALE_REPORT points at.
Screenshots go to DRSCALE_REPORT_SHOTS if set, else to a pytest temporary folder. Run the script
tests/report_screenshot.py directly to screenshot every figure page.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

from tests.ci import unavailable

SCRIPT = Path(__file__).with_name("report_screenshot.py")
_spec = importlib.util.spec_from_file_location("report_screenshot", SCRIPT)
report_screenshot = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = report_screenshot  # dataclasses look their module up there
_spec.loader.exec_module(report_screenshot)


def needs_chromium() -> None:
    if not os.access(report_screenshot.CHROMIUM, os.X_OK):
        unavailable(f"{report_screenshot.CHROMIUM} is missing (Debian: apt-get install chromium)")


@pytest.fixture(scope="module")
def report(request) -> Path:
    value = os.environ.get("DRSCALE_REPORT")
    path = Path(value) if value else request.getfixturevalue("finished_run") / "results" / "report.html"
    assert path.is_file(), f"no report at {path}"
    return path


@pytest.mark.e2e
def test_every_registered_figure_is_embedded_and_decodes(report):
    checks, problems = report_screenshot.check_figures(report.resolve(), report.resolve().parent / "plots")
    assert checks, "no results/plots/*.png in the report"
    assert not problems, "\n".join(problems)


@pytest.mark.e2e
def test_report_renders_every_figure_in_headless_chromium(report, tmp_path):
    needs_chromium()
    out = Path(os.environ.get("DRSCALE_REPORT_SHOTS") or tmp_path)
    summary = report_screenshot.run(report, out, figures="first")
    assert summary.ok, "\n".join(summary.problems)
    assert {entry["path"] for entry in summary.browser} == {check.path for check in summary.figures}
    assert [png.name for png in summary.screenshots][0] == "report_main.png"
    assert len(summary.screenshots) == 2
    assert all(png.stat().st_size > 0 for png in summary.screenshots)
