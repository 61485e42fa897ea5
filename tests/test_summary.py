"""summary.md and the report's findings section: findings first, compact tables by model name."""

import numpy as np
import pandas as pd

from drscale.findings import FINDING_COLUMNS
from drscale.summary import estimate_text, family_table, findings_rst, summary_markdown

FINDINGS = pd.DataFrame(
    [
        ["ce_eff follows a power law in N", "alpha", 0.43, 0.11, 1.04, "supported", "", "R^2 0.919"],
        ["frontier", "points", np.nan, np.nan, np.nan, "inconclusive", "add seeds", ""],
    ],
    columns=FINDING_COLUMNS,
)
FAMILIES = pd.DataFrame(
    {
        "model": ["L1-H16", "L1-H16", "L1-H32", "L1-H32", "L1-H32"],
        "non_embedding_params": [3584, 3584, 13824, 13824, 13824],
        "total_params": 1,
        "data_size": [1200, 2400, 1200, 2400, 2400],
        "strategy": ["standard", "standard", "standard", "standard", "pareto"],
        "n_seeds": 1,
        "ce_eff": [6.381, 5.226, 5.554, 4.062, 3.976],
    }
)
METRICS = pd.DataFrame(
    {
        "run": ["a", "b"],
        "collection": "docs",
        "role": "in_domain",
        "metric": "ce",
        "value": 1.0,
        "model": "m",
        "non_embedding_params": 1,
        "data_size": 1,
        "strategy": "standard",
    }
)


def test_estimate_text():
    assert estimate_text({"estimate": 0.431, "ci_lo": 0.114, "ci_hi": 1.04}) == "0.431 [0.114, 1.04]"
    assert estimate_text({"estimate": 2.0, "ci_lo": np.nan, "ci_hi": np.nan}) == "2"
    assert estimate_text({"estimate": np.nan, "ci_lo": np.nan, "ci_hi": np.nan}) == "n/a"


def test_family_table_has_model_names_as_rows_and_every_strategy():
    table = family_table(FAMILIES, "ce_eff")
    assert list(table.index) == ["L1-H16 (3.58k)", "L1-H32 (13.8k)"]
    assert list(table.columns) == ["D=1200", "D=2400", "pareto D=2400"]
    assert table.loc["L1-H32 (13.8k)", "pareto D=2400"] == 3.976 and np.isnan(
        table.loc["L1-H16 (3.58k)", "pareto D=2400"]
    )


def test_summary_starts_with_the_findings():
    text = summary_markdown(FINDINGS, FAMILIES, METRICS, 256)
    sections = [line for line in text.splitlines() if line.startswith("## ")]
    assert sections[0] == "## Findings"
    assert text.index("0.43 [0.11, 1.04]") < text.index("### ce_eff: effectiveness (in-domain CE)")
    assert "| L1-H32 (13.8k) |" in text and "(13824, 'L1-H32')" not in text
    assert text.count("### ") == 1  # one table per family, not one per strategy


def test_findings_rst_is_a_list_table():
    rst = findings_rst(FINDINGS)
    assert rst.startswith("Findings\n--------\n") and ".. list-table::" in rst
    assert "2 claims: 1 supported, 0 contradicted, 1 inconclusive" in rst
    assert "   * - ce_eff follows a power law in N" in rst and "     - add seeds" in rst
