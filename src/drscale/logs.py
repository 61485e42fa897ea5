"""Send a rule's output to its log file (rule scripts call this first)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path


def log_to(path: str | Path) -> None:
    """Redirect stdout, stderr and the logging module to ``path`` (line-buffered)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    stream = open(path, "w", buffering=1)  # noqa: SIM115 - lives as long as the job
    sys.stdout = sys.stderr = stream
    logging.basicConfig(stream=stream, level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s",
                        force=True)
