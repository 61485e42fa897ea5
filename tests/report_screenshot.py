"""Screenshot the Snakemake HTML report in headless Chromium and check that every figure is visible.

The Snakemake 9 report is a single-page React app without URL routes: categories and results are
shown through the global ``app.setView(...)``. To reach the figure pages without clicking, the report
is copied to a temporary folder with a small hook script appended that reads the URL fragment:

* ``#drscale-show=<result path>`` opens that result's category and displays it (as a click would);
* ``#drscale-check`` displays every PNG result in turn and writes, per figure, whether the rendered
  ``<img>`` decoded (natural size) and is laid out inside the window, into ``<pre id="drscale-check">``,
  which ``--dump-dom`` then returns.

Independently of the browser, the embedded ``results`` JSON is parsed and every ``results/plots/*.png``
is base64-decoded and opened with Pillow. When a ``plots`` folder lies next to the report (the usual
``results/plots``), every PNG in it must also be registered in the report.

Usage: python tests/report_screenshot.py results/report.html /tmp/report_shots [--figures all|first|none]
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

CHROMIUM = "/usr/bin/chromium"
WINDOW = (1400, 1000)
VIRTUAL_TIME_MS = 10000
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    f"--window-size={WINDOW[0]},{WINDOW[1]}", f"--virtual-time-budget={VIRTUAL_TIME_MS}",
]
PLOT = re.compile(r"^(?:.*/)?plots/[^/]+\.png$")

HOOK = """
<script id="drscale-screenshot-hook">
(function () {
    function categoryOf(path) {
        for (const category of Object.keys(categories)) {
            for (const subcategory of Object.keys(categories[category])) {
                if (categories[category][subcategory].includes(path)) {
                    return [category, subcategory];
                }
            }
        }
        return [undefined, undefined];
    }
    function show(path) {
        const [category, subcategory] = categoryOf(path);
        const single = category !== undefined && Object.keys(categories[category]).length === 1;
        // One setView call: React batches state updates, so two calls in a row would lose the first.
        app.setView({
            navbarMode: category === undefined ? "menu" : (single ? "subcategory" : "category"),
            category: category, subcategory: single ? subcategory : undefined,
            content: "img", contentPath: results[path].data_uri, resultPath: path
        });
    }
    function shownImage(path) {
        const uri = results[path].data_uri;
        return Array.from(document.querySelectorAll("#app img")).find(img => img.getAttribute("src") === uri);
    }
    function check(paths, index, report) {
        if (index >= paths.length) {
            const pre = document.createElement("pre");
            pre.id = "drscale-check";
            pre.textContent = JSON.stringify(report);
            document.body.appendChild(pre);
            return;
        }
        const path = paths[index];
        show(path);
        let waited = 0;
        (function poll() {
            const img = shownImage(path);
            if ((!img || !img.complete) && waited < 3000) {
                waited += 50;
                setTimeout(poll, 50);
                return;
            }
            const entry = {path: path, found: !!img};
            if (img) {
                const rect = img.getBoundingClientRect();
                const style = getComputedStyle(img);
                Object.assign(entry, {
                    complete: img.complete, natural_width: img.naturalWidth, natural_height: img.naturalHeight,
                    width: rect.width, height: rect.height, left: rect.left, top: rect.top,
                    display: style.display, visibility: style.visibility, opacity: style.opacity,
                    in_window: rect.right > 0 && rect.bottom > 0 && rect.left < innerWidth && rect.top < innerHeight,
                    fully_in_window: rect.left >= 0 && rect.top >= 0 && rect.right <= innerWidth
                        && rect.bottom <= innerHeight,
                    viewport: innerWidth + "x" + innerHeight
                });
            }
            report.push(entry);
            check(paths, index + 1, report);
        })();
    }
    function start(tries) {
        if (typeof app === "undefined" || !app || !app.state) {
            if (tries < 200) setTimeout(() => start(tries + 1), 50);
            return;
        }
        const hash = decodeURIComponent(location.hash.replace(/^#/, ""));
        if (hash.startsWith("drscale-show=")) {
            show(hash.slice("drscale-show=".length));
        } else if (hash === "drscale-check") {
            const paths = Object.keys(results).filter(p => /(^|\\/)plots\\/[^\\/]+\\.png$/.test(p)).sort();
            check(paths, 0, []);
        }
    }
    start(0);
})();
</script>
"""


@dataclass
class FigureCheck:
    path: str
    ok: bool
    detail: str


@dataclass
class Summary:
    figures: list[FigureCheck] = field(default_factory=list)
    browser: list[dict] = field(default_factory=list)
    screenshots: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


def embedded_json(text: str, name: str):
    """The object literal assigned by ``var <name> = {...};`` in the report's ``<script id="<name>">``."""
    match = re.search(rf'<script id="{name}">\s*var {name} = ', text)
    if match is None:
        raise ValueError(f"report has no <script id=\"{name}\"> with 'var {name} = ...'")
    value, _ = json.JSONDecoder().raw_decode(text, match.end())
    return value


def decode_png(data_uri: str) -> Image.Image:
    header, _, payload = data_uri.partition(",")
    if not header.startswith("data:image/png") or not header.endswith(";base64"):
        raise ValueError(f"not a base64 PNG data URI: {header[:80]}")
    raw = base64.b64decode(payload, validate=True)
    Image.open(io.BytesIO(raw)).verify()
    image = Image.open(io.BytesIO(raw))
    image.load()
    return image


def is_blank(image: Image.Image) -> bool:
    """A single colour over the whole image (e.g. an empty white canvas)."""
    extrema = image.convert("RGB").getextrema()
    return all(low == high for low, high in extrema)


def check_figures(report: Path, plots_dir: Path | None = None) -> tuple[list[FigureCheck], list[str]]:
    """Every registered ``plots/*.png`` decodes to a non-empty, non-blank image; every PNG on disk is registered."""
    text = report.read_text(encoding="utf-8")
    results = embedded_json(text, "results")
    categories = embedded_json(text, "categories")
    problems = []
    listed = {path for category in categories.values() for paths in category.values() for path in paths}
    for path in sorted(listed - results.keys()):
        problems.append(f"{path}: listed in a category but missing from the embedded results")
    plots = sorted(path for path in results if PLOT.match(path))
    if not plots:
        problems.append("no plots/*.png result is embedded in the report")
    checks = []
    for path in plots:
        entry = results[path]
        try:
            image = decode_png(entry.get("data_uri") or "")
        except Exception as error:  # noqa: BLE001 - any decoding failure is a finding
            checks.append(FigureCheck(path, False, f"does not decode: {error}"))
            continue
        width, height = image.size
        if width == 0 or height == 0:
            checks.append(FigureCheck(path, False, f"empty image {width}x{height}"))
        elif is_blank(image):
            checks.append(FigureCheck(path, False, f"{width}x{height} but a single colour"))
        elif path not in listed:
            checks.append(FigureCheck(path, False, f"{width}x{height} but in no report category"))
        else:
            checks.append(FigureCheck(path, True, f"{width}x{height} {image.mode}"))
    problems += [f"{check.path}: {check.detail}" for check in checks if not check.ok]
    if plots_dir is not None and plots_dir.is_dir():
        registered = {Path(path).name for path in plots}
        for png in sorted(plots_dir.glob("*.png")):
            if png.name not in registered:
                problems.append(f"{png} exists on disk but is not in the report")
    return checks, problems


def chromium(url: str, *extra: str, timeout: int = 120) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="drscale-chromium-") as profile:
        command = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *extra, url]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def screenshot(url: str, png: Path) -> Path:
    png.unlink(missing_ok=True)
    result = chromium(url, f"--screenshot={png}")
    if not png.is_file() or png.stat().st_size == 0:
        raise RuntimeError(f"chromium wrote no screenshot for {url} (rc={result.returncode}):\n{result.stderr[-2000:]}")
    return png


def hooked_copy(report: Path, folder: Path) -> Path:
    text = report.read_text(encoding="utf-8")
    at = text.rfind("</body>")
    if at < 0:
        raise ValueError(f"{report} has no </body>")
    copy = folder / "report.html"
    copy.write_text(text[:at] + HOOK + text[at:], encoding="utf-8")
    return copy


def browser_check(hooked: Path) -> list[dict]:
    """Display every PNG result in the real report app and read back the rendered <img> state."""
    result = chromium(f"{hooked.as_uri()}#drscale-check", "--dump-dom")
    match = re.search(r'<pre id="drscale-check">(.*?)</pre>', result.stdout, re.S)
    if match is None:
        raise RuntimeError(f"the in-browser figure check did not finish (rc={result.returncode}):\n"
                           f"{result.stderr[-2000:]}")
    return json.loads(html.unescape(match.group(1)))


def browser_problems(entries: list[dict], expected: list[str]) -> list[str]:
    problems = []
    seen = {entry["path"] for entry in entries}
    problems += [f"{path}: not checked in the browser" for path in expected if path not in seen]
    for entry in entries:
        path = entry["path"]
        if not entry.get("found"):
            problems.append(f"{path}: no <img> rendered by the report app")
        elif not entry.get("complete") or not entry.get("natural_width") or not entry.get("natural_height"):
            problems.append(f"{path}: <img> did not decode in Chromium "
                            f"({entry.get('natural_width')}x{entry.get('natural_height')})")
        elif entry.get("width", 0) <= 0 or entry.get("height", 0) <= 0 or not entry.get("in_window"):
            problems.append(f"{path}: <img> laid out at {entry.get('width')}x{entry.get('height')} "
                            f"(+{entry.get('left')},+{entry.get('top')}), not inside the window")
        elif entry.get("display") == "none" or entry.get("visibility") == "hidden" or entry.get("opacity") == "0":
            problems.append(f"{path}: <img> hidden by CSS")
    return problems


def screenshot_problems(png: Path) -> list[str]:
    with Image.open(png) as image:
        if image.size != WINDOW:
            return [f"{png.name}: screenshot is {image.size[0]}x{image.size[1]}, expected {WINDOW[0]}x{WINDOW[1]}"]
        if is_blank(image):
            return [f"{png.name}: screenshot is a single colour"]
    return []


def slug(path: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(path).stem)


def run(report: Path, out: Path, figures: str = "all", plots_dir: Path | None = None) -> Summary:
    report = report.resolve()
    out.mkdir(parents=True, exist_ok=True)
    if plots_dir is None:
        plots_dir = report.parent / "plots"
    summary = Summary()

    start = time.perf_counter()
    summary.figures, problems = check_figures(report, plots_dir)
    summary.problems += problems
    summary.seconds["decode"] = time.perf_counter() - start
    plots = [check.path for check in summary.figures]

    with tempfile.TemporaryDirectory(prefix="drscale-report-") as folder:
        hooked = hooked_copy(report, Path(folder))

        start = time.perf_counter()
        summary.screenshots.append(screenshot(report.as_uri(), out / "report_main.png"))
        summary.seconds["main screenshot"] = time.perf_counter() - start

        start = time.perf_counter()
        summary.browser = browser_check(hooked)
        summary.problems += browser_problems(summary.browser, plots)
        summary.seconds["browser check"] = time.perf_counter() - start

        chosen = {"all": plots, "first": plots[:1], "none": []}[figures]
        start = time.perf_counter()
        for path in chosen:
            png = out / f"report_{slug(path)}.png"
            summary.screenshots.append(screenshot(f"{hooked.as_uri()}#drscale-show={path}", png))
        summary.seconds[f"{len(chosen)} figure screenshots"] = time.perf_counter() - start

    for png in summary.screenshots:
        summary.problems += screenshot_problems(png)
    return summary


def print_summary(summary: Summary, report: Path) -> None:
    print(f"report: {report}")
    print(f"embedded figures ({len(summary.figures)}):")
    rendered = {entry["path"]: entry for entry in summary.browser}
    for check in summary.figures:
        entry = rendered.get(check.path, {})
        if not entry.get("found"):
            shown = "not rendered"
        else:
            shown = (f"rendered {entry.get('natural_width')}x{entry.get('natural_height')}, "
                     f"laid out {entry.get('width', 0):.0f}x{entry.get('height', 0):.0f} "
                     f"in a {entry.get('viewport')} viewport")
            if not entry.get("in_window"):
                shown += " OUTSIDE THE WINDOW"
            elif not entry.get("fully_in_window"):
                shown += " (partly outside, scrollable)"
        print(f"  {'ok  ' if check.ok else 'FAIL'} {check.path}: {check.detail}; {shown}")
    print("screenshots:")
    for png in summary.screenshots:
        print(f"  {png}")
    print("timings: " + ", ".join(f"{name} {seconds:.1f}s" for name, seconds in summary.seconds.items()))
    if summary.problems:
        print(f"PROBLEMS ({len(summary.problems)}):")
        for problem in summary.problems:
            print(f"  {problem}")
    else:
        print("OK: every figure is embedded, decodes, and is visible in headless Chromium")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("report", type=Path, help="the Snakemake report, e.g. results/report.html")
    parser.add_argument("output", type=Path, help="folder for the PNG screenshots")
    parser.add_argument("--figures", choices=["all", "first", "none"], default="all",
                        help="which figure pages to screenshot besides the main page (default: all)")
    parser.add_argument("--plots-dir", type=Path, default=None,
                        help="folder whose *.png must all be in the report (default: <report folder>/plots, if any)")
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} not found (apt-get install chromium)", file=sys.stderr)
        return 2
    if shutil.which(CHROMIUM) is None:
        print(f"{CHROMIUM} is not executable", file=sys.stderr)
        return 2
    summary = run(args.report, args.output, args.figures, args.plots_dir)
    print_summary(summary, args.report)
    return 0 if summary.ok else 1


if __name__ == "__main__":
    sys.exit(main())
