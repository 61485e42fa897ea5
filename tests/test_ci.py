"""CI cannot go green by skipping: under CI a missing tool is a failure."""

import pytest

from tests.ci import unavailable


@pytest.mark.parametrize(("value", "outcome"), [("true", pytest.fail.Exception), ("1", pytest.fail.Exception),
                                                 ("", pytest.skip.Exception), ("false", pytest.skip.Exception)])
def test_a_missing_tool_fails_under_ci_and_skips_elsewhere(monkeypatch, value, outcome):
    monkeypatch.setenv("CI", value)
    with pytest.raises(outcome, match="chromium is missing"):
        unavailable("chromium is missing")


def test_ci_script_sets_ci_and_checks_its_installs():
    from tests.test_workflow import ROOT

    script = (ROOT / ".ci" / "run").read_text()
    assert 'export CI="${CI:-true}"' in script
    assert "/usr/bin/chromium --version" in script
    # `a && b` under `set -e` does not stop the script when `a` fails.
    assert not [line for line in script.splitlines() if "apt-get" in line and "&&" in line]
