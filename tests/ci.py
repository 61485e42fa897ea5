"""Skips that CI must not take: under ``CI`` (set by ``.ci/run`` and CI services) a missing tool fails."""

from __future__ import annotations

import os

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def unavailable(reason: str) -> None:
    """Skip the test because ``reason``; fail it instead in CI, where the install step provides
    the tool, so that a broken install cannot leave CI green with the test skipped."""
    if in_ci():
        pytest.fail(f"{reason} (CI is set: .ci/run installs it, so this is a failure, not a skip)")
    pytest.skip(reason)
