"""The human-readable summary (results/summary.md) and the report's findings section: the
verdicts first, then the cost laws and the budget plan, then one compact table per metric
family with every strategy, models (by name) as rows."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from drscale.families import family_columns
from drscale.plots import compact, family_label

VERDICT_MARK = {"supported": "supported", "contradicted": "**contradicted**", "inconclusive": "inconclusive"}


def _number(value: float) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "n/a"
    if np.isinf(value):
        return "inf"
    return f"{value:.3g}"


def estimate_text(row) -> str:
    """'0.43 [0.11, 1.04]', or the estimate alone without an interval."""
    est = _number(row["estimate"])
    if np.isnan(row["ci_lo"]) and np.isnan(row["ci_hi"]):
        return est
    return f"{est} [{_number(row['ci_lo'])}, {_number(row['ci_hi'])}]"


def findings_rows(findings: pd.DataFrame) -> pd.DataFrame:
    """claim, statistic, estimate [95% CI], verdict, what would decide it: the findings as read."""
    return pd.DataFrame(
        {
            "claim": findings["claim"],
            "statistic": findings["statistic"],
            "estimate [95% CI]": [estimate_text(r) for _, r in findings.iterrows()],
            "verdict": findings["verdict"],
            "would decide / evidence": [
                "; ".join(t for t in (r["would_decide"], r["evidence"]) if isinstance(t, str) and t)
                for _, r in findings.iterrows()
            ],
        }
    )


def findings_rst(findings: pd.DataFrame) -> str:
    """The findings as an RST list-table, the first section of the Snakemake report."""
    full = findings_rows(findings)
    rows = pd.DataFrame(
        {
            "claim": full["claim"],
            "statistic = estimate [95% CI]": full["statistic"] + " = " + full["estimate [95% CI]"],
            "verdict": full["verdict"],
            "would decide / evidence": full["would decide / evidence"],
        }
    )
    counts = findings["verdict"].value_counts()
    lines = [
        "Findings",
        "--------",
        "",
        f"{len(findings)} claims: {counts.get('supported', 0)} supported, {counts.get('contradicted', 0)} "
        f"contradicted, {counts.get('inconclusive', 0)} inconclusive (decision rules: ``drscale.findings``).",
        "",
        ".. list-table::",
        "   :header-rows: 1",
        "   :widths: 30 30 10 30",
        "",
    ]
    for values in [list(rows.columns), *rows.astype(str).to_numpy().tolist()]:
        lines.append("   * - " + (values[0] or " "))
        lines += [f"     - {v or ' '}" for v in values[1:]]
    return "\n".join(lines) + "\n"


def _model_label(model: str, n: float) -> str:
    return f"{model} ({compact(float(n))})"


def family_table(families: pd.DataFrame, family: str) -> pd.DataFrame:
    """Models (name and N) as rows; the standard strategy's data sizes as columns, then every other
    strategy at the data sizes where it ran ('pareto D=2400')."""
    data = families.dropna(subset=[family]).sort_values(["non_embedding_params", "data_size"])
    if data.empty:
        return pd.DataFrame()
    data = data.assign(
        row=[_model_label(m, n) for m, n in zip(data["model"], data["non_embedding_params"])],
        column=[f"D={d:g}" if s == "standard" else f"{s} D={d:g}" for s, d in zip(data["strategy"], data["data_size"])],
    )
    order_rows = list(dict.fromkeys(data["row"]))
    ranked = data.assign(rank=(data["strategy"] != "standard").astype(int)).sort_values(
        ["rank", "strategy", "data_size"]
    )
    order_columns = list(dict.fromkeys(ranked["column"]))
    table = data.pivot_table(index="row", columns="column", values=family, aggfunc="mean")
    table = table.reindex(index=order_rows, columns=order_columns)
    table.index.name, table.columns.name = "model (N)", None
    return table


def summary_markdown(
    findings: pd.DataFrame,
    families: pd.DataFrame,
    metrics: pd.DataFrame,
    negatives: int,
    cost_fits: pd.DataFrame | None = None,
    budget: pd.DataFrame | None = None,
) -> str:
    """results/summary.md: findings, cost exponents, budget plan, one table per metric family."""
    lines = [
        "# drscale summary",
        "",
        f"{metrics['run'].nunique()} trained runs, {metrics['collection'].nunique()} collections. Every loss is a "
        f"contrastive entropy (CE, lower is better); a model that cannot tell the positive from its {negatives} "
        f"negatives scores ln {negatives + 1} = {math.log(negatives + 1):.2f}.",
        "",
        "## Findings",
        "",
        findings_rows(findings).to_markdown(index=False),
        "",
    ]
    if cost_fits is not None and len(cost_fits):
        cpu = cost_fits[cost_fits["quantity"].isin(["cpu_time", "flops"])]
        table = pd.DataFrame(
            {
                "stage": cpu["stage"],
                "strategy": cpu["strategy"],
                "quantity": cpu["unit"],
                "exponent of N": [
                    estimate_text({"estimate": r["exp_N"], "ci_lo": r["exp_N_lo"], "ci_hi": r["exp_N_hi"]})
                    for _, r in cpu.iterrows()
                ],
                "exponent of D": [
                    estimate_text({"estimate": r["exp_D"], "ci_lo": r["exp_D_lo"], "ci_hi": r["exp_D_hi"]})
                    for _, r in cpu.iterrows()
                ],
                "R^2": cpu["r2"].round(3),
                "jobs": cpu["n_points"],
                "device": cpu["device"],
                "status": cpu["status"],
            }
        )
        lines += ["## Cost laws: cost = c N^a D^b", "", table.to_markdown(index=False), ""]
    if budget is not None and len(budget):
        shown = budget.assign(
            budget=[f"{b:.2g}" for b in budget["budget_flops"]],
            N=[compact(n) if np.isfinite(n) else "n/a" for n in budget["non_embedding_params"].astype(float)],
            D=[compact(d) if np.isfinite(d) else "n/a" for d in budget["data_size"].astype(float)],
            predicted=[
                estimate_text({"estimate": r["predicted"], "ci_lo": r["predicted_lo"], "ci_hi": r["predicted_hi"]})
                for _, r in budget.iterrows()
            ],
        )[["budget", "family", "strategy", "N", "D", "predicted", "outside_grid", "note"]]
        lines += ["## Budget plan (training FLOPs)", "", shown.to_markdown(index=False), ""]
    lines += [
        "## Measurements (seed means)",
        "",
        "Rows: model (non-embedding parameters N); columns: data size D "
        "of the standard strategy, then each other strategy at the D where it ran.",
        "",
    ]
    shown = family_columns(families)
    if sum(f.startswith("ce_ood_") and f != "ce_ood_mean" for f in shown) == 1:
        shown.remove("ce_ood_mean")  # the mean of one OOD collection is that collection
    for family in shown:
        table = family_table(families, family)
        if not table.empty:
            lines += [f"### {family}: {family_label(family)}", "", table.round(3).to_markdown(missingval=""), ""]
    ndcg = metrics[(metrics["role"] == "in_domain") & (metrics["metric"] == "ndcg@10")]
    if len(ndcg):
        keys = ["model", "non_embedding_params", "data_size", "strategy"]
        table = family_table(
            ndcg.groupby(keys, as_index=False)["value"].mean().rename(columns={"value": "ndcg"}), "ndcg"
        )
        lines += ["### in-domain nDCG@10", "", table.round(3).to_markdown(missingval=""), ""]
    return "\n".join(lines)
