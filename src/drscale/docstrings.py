"""Harvest (summary line -> rest of docstring) pairs from installed Python packages.

The offline default benchmark is built from real technical text that every machine with the
project's dependencies has: the docstrings of installed libraries. A docstring's first paragraph
is the query, the rest is its relevant passage. Each package is walked in its own subprocess
(``python -m drscale.docstrings``) so an import that hangs, crashes or pollutes global state
cannot take the workflow with it, and so the harvest is a pure function of the package version.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import io
import json
import pkgutil
import re
import subprocess
import sys
import warnings
from pathlib import Path

# stdlib modules that open windows, browsers, print on import, or are test suites.
STDLIB_SKIP = {
    "antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo", "test", "lib2to3",
    "ensurepip", "pydoc_data", "venv", "xxsubtype", "xxlimited", "xxlimited_35", "msvcrt",
    "winreg", "winsound", "nt", "_msi", "msilib",
}
SUBMODULE_SKIP = re.compile(r"(^|\.)(_[^.]*|tests?|testing|conftest|benchmarks?|setup)(\.|$)")
RULE_TOKEN = re.compile(r"^[-=~^*]{3,}$")
SIGNATURE_LINE = re.compile(r"^[\w.]+\(.*\)\s*(->.*)?$")
# pybind11 signatures print default objects with their address ("<Options object at 0x7f8a...>"),
# which changes with every process: removed, so a harvest is byte-identical from run to run.
MEMORY_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
MIN_QUERY_WORDS, MAX_QUERY_WORDS = 3, 40
MIN_PASSAGE_WORDS, MAX_PASSAGE_WORDS = 12, 200


def split_docstring(doc: str) -> tuple[str, str] | None:
    """Split a docstring into (summary, rest), or None when it makes no usable pair.

    Leading signature lines (``add(x1, x2, /, out=None)`` in C-implemented functions) are
    dropped; memory addresses are removed; whitespace is collapsed; the passage keeps its first
    ``MAX_PASSAGE_WORDS`` words (the encoders see 64-256 tokens, and it keeps the files small).
    """
    doc = MEMORY_ADDRESS.sub("", inspect.cleandoc(doc))
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", doc) if p.strip()]
    while paragraphs and all(SIGNATURE_LINE.match(line.strip()) for line in paragraphs[0].splitlines()):
        paragraphs.pop(0)
    if len(paragraphs) < 2:
        return None
    summary = " ".join(paragraphs[0].split())
    # numpydoc/reST section underlines ("----------") carry no words.
    rest = " ".join([w for w in " ".join(paragraphs[1:]).split() if not RULE_TOKEN.match(w)][:MAX_PASSAGE_WORDS])
    if not MIN_QUERY_WORDS <= len(summary.split()) <= MAX_QUERY_WORDS:
        return None
    if len(rest.split()) < MIN_PASSAGE_WORDS:
        return None
    return summary, rest


def _module_names(package: str) -> list[str]:
    if package == "stdlib":
        roots = sorted(n for n in sys.stdlib_module_names if not n.startswith("_") and n not in STDLIB_SKIP)
    else:
        roots = [package]
    names = []
    for root in roots:
        try:
            module = importlib.import_module(root)
        except Exception:  # noqa: BLE001 - an unimportable module simply contributes nothing
            continue
        names.append(root)
        if hasattr(module, "__path__"):
            walked = pkgutil.walk_packages(module.__path__, prefix=root + ".", onerror=lambda _: None)
            names.extend(sorted(info.name for info in walked if not SUBMODULE_SKIP.search(info.name[len(root):])))
    return names


def _documented_objects(module, root: str):
    """Public functions, classes and methods that ``module`` exposes and its package defines."""
    for name, obj in sorted(vars(module).items()):
        defined_in = getattr(obj, "__module__", None) or ""
        if name.startswith("_") or not (defined_in == root or defined_in.startswith(root + ".")):
            continue
        if inspect.isclass(obj):
            yield f"{module.__name__}.{name}", obj
            for attr, member in sorted(vars(obj).items()):
                if not attr.startswith("_") and (inspect.isroutine(member) or isinstance(member, property)):
                    yield f"{module.__name__}.{name}.{attr}", member
        elif inspect.isroutine(obj):
            yield f"{module.__name__}.{name}", obj


def harvest_in_process(package: str) -> list[dict]:
    """Return ``{"id", "query", "passage"}`` pairs for one package, walking it in this process."""
    pairs, seen = [], set()  # ids of visited objects; modules stay imported, so ids stay unique
    quiet = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
        warnings.simplefilter("ignore")
        for module_name in _module_names(package):
            try:
                module = importlib.import_module(module_name)
            except BaseException:  # noqa: BLE001 - optional submodules fail to import without extras
                continue
            root = module_name.split(".")[0]
            for qualname, obj in _documented_objects(module, root):
                doc = getattr(obj, "__doc__", None)
                # Re-exports: the first public module (in sorted order) that exposes an object owns it.
                if not isinstance(doc, str) or id(obj) in seen:
                    continue
                seen.add(id(obj))
                split = split_docstring(doc)
                if split:
                    pairs.append({"id": qualname, "query": split[0], "passage": split[1]})
    return pairs


def harvest_package(package: str, output: Path, timeout_s: float = 300) -> int:
    """Harvest ``package`` in a subprocess and write its pairs as JSON lines; return the count."""
    if package != "stdlib" and importlib.util.find_spec(package) is None:
        raise ValueError(
            f"collections: package {package!r} is not installed; install it or remove it from the "
            "'packages' list of its collection in the config"
        )
    output.parent.mkdir(parents=True, exist_ok=True)
    # The child writes the file itself: C extensions may print to fd 1 during import.
    result = subprocess.run(
        [sys.executable, "-m", "drscale.docstrings", package, str(output)],
        capture_output=True, text=True, timeout=timeout_s, check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"harvesting docstrings of {package!r} failed:\n{result.stderr[-2000:]}")
    with open(output, encoding="utf-8") as f:
        return sum(1 for _ in f)


def write_pairs(pairs: list[dict], output: Path) -> None:
    with open(output, "w", encoding="utf-8") as f:
        for pair in pairs:
            f.write(json.dumps(pair, ensure_ascii=False, sort_keys=True) + "\n")


if __name__ == "__main__":
    write_pairs(harvest_in_process(sys.argv[1]), Path(sys.argv[2]))
