"""The study's claims, each with a statistic, its interval and a verdict.

Every claim is judged by a written-down rule (the ``*_verdict`` functions and the thresholds
below), so that the same tables always give the same verdict and a reader can check it:

- ``supported``: the interval of the statistic lies on the claim's side of its threshold (and a
  law's fit is good enough to be read at all);
- ``contradicted``: the interval lies on the other side (or the fit is clearly bad);
- ``inconclusive``: anything else; ``would_decide`` then names what is missing (grid points,
  seeds, a stage that did not run, a column a table lacks). Numbers are never made up: a missing
  input gives NaN and ``inconclusive``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from drscale.fit import BOUNDS, PARAMS, elasticities

FINDING_COLUMNS = ["claim", "statistic", "estimate", "ci_lo", "ci_hi", "verdict", "would_decide", "evidence"]
VERDICTS = ("supported", "contradicted", "inconclusive")
# A power law is read only when it fits and predicts: R^2 >= 0.9 and a held-out extrapolation one
# grid step out within 10%; it is contradicted by R^2 < 0.5 or a held-out error above 25%.
R2_SUPPORT, R2_CONTRADICT = 0.9, 0.5
HELDOUT_SUPPORT, HELDOUT_CONTRADICT = 0.10, 0.25
# An exponent whose interval stays below 0.01 means the loss does not fall with that resource
# (the fit's lower bound is 1e-3); one whose interval reaches the fit's upper bound is not pinned.
EXPONENT_FLOOR = 0.01
EXPONENT_CEILING = 0.99 * BOUNDS["alpha"][1]
LEVEL = 0.95
LABELS = {
    "ce_eff": "effectiveness (ce_eff)",
    "ce_ood_mean": "OOD robustness (ce_ood_mean)",
    "ce_adv": "adversarial robustness (ce_adv)",
    "ce_rob": "robustness (ce_rob)",
}
POWER_LAW_FAMILIES = ("ce_eff", "ce_ood_mean", "ce_adv")
ROBUSTNESS_FAMILIES = ("ce_ood_mean", "ce_adv", "ce_rob")
EXPONENT_AXIS = {"alpha": "N", "beta": "D"}


def _row(claim, statistic, estimate=np.nan, ci=(np.nan, np.nan), verdict="inconclusive", would_decide="", evidence=""):
    return {
        "claim": claim,
        "statistic": statistic,
        "estimate": float(estimate),
        "ci_lo": float(ci[0]),
        "ci_hi": float(ci[1]),
        "verdict": verdict,
        "would_decide": would_decide,
        "evidence": evidence,
    }


def interval_verdict(lo: float, hi: float, threshold: float, claim_above: bool) -> str:
    """``supported`` when the whole interval lies on the claim's side of ``threshold``
    (above it if ``claim_above``), ``contradicted`` when it lies wholly on the other side."""
    if np.isnan(lo) or np.isnan(hi):
        return "inconclusive"
    above, below = lo > threshold, hi < threshold
    if above or below:
        return "supported" if above == claim_above else "contradicted"
    return "inconclusive"


def power_law_verdict(fit: dict | None, exponent: str) -> tuple[str, str]:
    """Verdict and would_decide for "the loss follows a power law in N (alpha) or D (beta)",
    from one row of fits.tsv. Rule: supported iff the exponent's bootstrap interval lies in
    (0.01, 9.9), R^2 >= 0.9 and the held-out error along that axis <= 10%; contradicted iff the
    interval lies below 0.01, R^2 < 0.5 or the held-out error > 25%; else inconclusive."""
    axis = EXPONENT_AXIS[exponent]
    if fit is None:
        return "inconclusive", "no fit: the stage that measures this family did not run"
    k = len(PARAMS[fit["law"]])
    if fit["status"] != "ok":
        return "inconclusive", f"{fit['status']}; add grid points along {axis} (>= {k + 2} points give intervals)"
    lo, hi = fit[f"{exponent}_lo"], fit[f"{exponent}_hi"]
    if not (np.isfinite(lo) and np.isfinite(hi)):
        more = max(1, 2 - int(fit["dof"]))
        return (
            "inconclusive",
            f"dof = {int(fit['dof'])}: no bootstrap interval; add >= {more} grid point(s) along {axis}",
        )
    r2, held = fit["r2"], fit[f"heldout_{axis}_rel_error"]
    if hi < EXPONENT_FLOOR or r2 < R2_CONTRADICT or (np.isfinite(held) and held > HELDOUT_CONTRADICT):
        return "contradicted", ""
    missing = []
    if lo <= EXPONENT_FLOOR:
        missing.append(f"the {exponent} interval reaches 0: add grid points along {axis} or seeds")
    if hi >= EXPONENT_CEILING:
        missing.append(
            f"the {exponent} interval reaches the fit's bound {BOUNDS[exponent][1]:g}: add grid points along {axis}"
        )
    if r2 < R2_SUPPORT:
        missing.append(f"R^2 = {r2:.3f} < {R2_SUPPORT}: add seeds to lower the noise")
    if not np.isfinite(held):
        missing.append(f"no held-out check: add a grid point along {axis}")
    elif held > HELDOUT_SUPPORT:
        missing.append(f"held-out error {held:.1%} > {HELDOUT_SUPPORT:.0%}: add a larger {axis}")
    return ("inconclusive", "; ".join(missing)) if missing else ("supported", "")


def _fit_row(fits: pd.DataFrame, strategy: str, family: str, law: str) -> dict | None:
    rows = fits[(fits["strategy"] == strategy) & (fits["family"] == family) & (fits["law"] == law)]
    return rows.iloc[0].to_dict() if len(rows) else None


def power_law_findings(fits: pd.DataFrame, strategy: str = "standard", families=POWER_LAW_FAMILIES) -> list[dict]:
    """Per family: a power law in N and in D, from the marginal laws and from the joint law."""
    rows = []
    for family in families:
        for law, exponent in (("N", "alpha"), ("D", "beta"), ("joint", "alpha"), ("joint", "beta")):
            axis = EXPONENT_AXIS[exponent]
            fit = _fit_row(fits, strategy, family, law)
            verdict, would_decide = power_law_verdict(fit, exponent)
            where = "joint law L(N, D)" if law == "joint" else f"L({axis}) at the largest {'D' if axis == 'N' else 'N'}"
            evidence = ""
            if fit is not None and fit["status"] == "ok":
                held = fit[f"heldout_{axis}_rel_error"]
                evidence = (
                    f"R^2 {fit['r2']:.3f}, {int(fit['n_points'])} points, dof {int(fit['dof'])}, "
                    f"held-out largest {axis} error " + (f"{held:.1%}" if np.isfinite(held) else "n/a")
                )
            rows.append(
                _row(
                    f"{LABELS.get(family, family)} follows a power law in {axis} "
                    f"({'joint' if law == 'joint' else 'marginal'} law, {strategy})",
                    f"{exponent} of {where}",
                    np.nan if fit is None else fit[exponent],
                    (np.nan, np.nan) if fit is None else (fit[f"{exponent}_lo"], fit[f"{exponent}_hi"]),
                    verdict,
                    would_decide,
                    evidence,
                )
            )
    return rows


def grid_centre(families_df: pd.DataFrame, strategy: str = "standard") -> tuple[float, float]:
    """The geometric middle of the strategy's N and D ranges."""
    points = families_df[families_df["strategy"] == strategy]
    n, d = points["non_embedding_params"].astype(float), points["data_size"].astype(float)
    return float(np.sqrt(n.min() * n.max())), float(np.sqrt(d.min() * d.max()))


def _sensitivity(params: dict, N: float, D: float) -> float:
    """(d log L / d log D) / (d log L / d log N): > 1 means the loss responds more to data."""
    e_n, e_d = elasticities(params, N, D)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(e_d / e_n)


def _percentiles(values: np.ndarray) -> tuple[float, float]:
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return np.nan, np.nan
    return tuple(float(q) for q in np.quantile(values, [(1 - LEVEL) / 2, (1 + LEVEL) / 2]))


def sensitivity_findings(
    fits: pd.DataFrame, draws: pd.DataFrame, families_df: pd.DataFrame, strategy: str = "standard"
) -> list[dict]:
    """Robustness more sensitive to D, effectiveness to N: the ratio of the joint law's
    elasticities at the grid's centre per family (read only when that law fits, R^2 >= 0.9), and
    each robustness family's ratio over effectiveness's, with percentile intervals from the
    bootstrap draws (paired by draw: every family's draws resample the same grid points with the
    same seed)."""
    if families_df[families_df["strategy"] == strategy].empty:
        return [
            _row(
                "robustness is more sensitive to D, effectiveness to N",
                "elasticity ratio",
                would_decide=f"no {strategy} runs",
            )
        ]
    N0, D0 = grid_centre(families_df, strategy)
    where = f"at N = {N0:.3g}, D = {D0:.3g}"
    ratios, estimates, rows = {}, {}, []
    for family in ("ce_eff", *ROBUSTNESS_FAMILIES):
        robust = family != "ce_eff"
        claim = f"{LABELS[family]} is more sensitive to {'D than to N' if robust else 'N than to D'} ({strategy})"
        statistic = f"(dlogL/dlogD) / (dlogL/dlogN) of the joint law {where}"
        fit = _fit_row(fits, strategy, family, "joint")
        if fit is None or fit["status"] != "ok":
            reason = "no fit" if fit is None else fit["status"]
            rows.append(_row(claim, statistic, would_decide=f"joint law: {reason}; add grid points in N and D"))
            continue
        if not fit["r2"] >= R2_SUPPORT:
            rows.append(
                _row(
                    claim,
                    statistic,
                    would_decide=(
                        f"the joint law fits with R^2 {fit['r2']:.3f} < {R2_SUPPORT}: "
                        "its elasticities are not read; add seeds"
                    ),
                )
            )
            continue
        params = {p: fit[p] for p in PARAMS["joint"]}
        mine = draws[(draws["strategy"] == strategy) & (draws["family"] == family) & (draws["law"] == "joint")]
        by_draw = pd.Series(
            [_sensitivity(r, N0, D0) for r in mine[list(PARAMS["joint"])].to_dict("records")],
            index=mine["draw"].to_numpy(),
            dtype=float,
        )
        ratios[family] = by_draw
        estimate, ci = _sensitivity(params, N0, D0), _percentiles(by_draw.to_numpy())
        estimates[family] = estimate
        e_n, e_d = elasticities(params, N0, D0)
        rows.append(_ratio_row(claim, statistic, estimate, ci, by_draw, robust,
                               f"dlogL/dlogN = {float(e_n):.3f}, dlogL/dlogD = {float(e_d):.3f}; "
                               f"{len(by_draw)} bootstrap draws"))
    for family in ROBUSTNESS_FAMILIES:
        claim = f"{LABELS[family]} is more D-sensitive (relative to N) than effectiveness ({strategy})"
        statistic = f"elasticity ratio of {family} / that of ce_eff, {where}"
        if family not in ratios or "ce_eff" not in ratios:
            rows.append(
                _row(claim, statistic, would_decide="needs the joint laws of both families (see the rows above)")
            )
            continue
        eff, rob = ratios["ce_eff"], ratios[family]
        paired = (rob / eff).dropna()
        estimate = estimates[family] / estimates["ce_eff"]
        ci = _percentiles(paired.to_numpy())
        rows.append(_ratio_row(claim, statistic, estimate, ci, paired, True, f"{len(paired)} paired bootstrap draws"))
    return rows


def _ratio_row(claim, statistic, estimate, ci, draws, claim_above: bool, evidence: str) -> dict:
    """A sensitivity-ratio claim: decided by whether its interval excludes 1."""
    verdict = interval_verdict(*ci, 1.0, claim_above=claim_above)
    would_decide = "" if verdict != "inconclusive" else _sensitivity_would_decide(draws)
    return _row(claim, statistic, estimate, ci, verdict, would_decide, evidence)


def _sensitivity_would_decide(draws: pd.Series) -> str:
    if len(draws) == 0:
        return "no bootstrap draws (dof < 2): add grid points in N and D"
    return "the interval contains 1: add grid points at the ends of the N and D ranges, or seeds"


FRONTIER_COLUMNS = ["ce_eff_lo", "ce_eff_hi", "ce_rob_lo", "ce_rob_hi", "dominated_by", "n_seeds"]


def _missing(table: pd.DataFrame | None, columns, name: str) -> str:
    if table is None:
        return f"{name} was not made"
    absent = [c for c in columns if c not in table.columns]
    return f"{name} lacks the columns {absent} (seed intervals; they need >= 2 seeds per point)" if absent else ""


def _beyond(a_hi: float, b_lo: float) -> bool:
    """a is better (lower) than b beyond the seed noise: a's interval ends below b's."""
    return bool(np.isfinite(a_hi) and np.isfinite(b_lo) and a_hi < b_lo)


def frontier_verdict(frontier: pd.DataFrame) -> tuple[int, int, int]:
    """(trade-off points, one-best points, undecided points) over the (N, D) points with >= 2
    strategies. A trade-off point has two non-dominated strategies, one better on ce_eff and the
    other on ce_rob, both beyond seed noise; a one-best point has a single strategy that
    dominates every other beyond noise (``dominated_by``)."""
    trade, best, undecided = 0, 0, 0
    for _, cell in frontier.groupby(["non_embedding_params", "data_size"]):
        if len(cell) < 2:
            continue
        free = cell[cell["dominated_by"].fillna("").astype(str).str.len() == 0]
        pairs = [(a, b) for _, a in free.iterrows() for _, b in free.iterrows() if a["strategy"] < b["strategy"]]
        if any(
            (_beyond(a["ce_eff_hi"], b["ce_eff_lo"]) and _beyond(b["ce_rob_hi"], a["ce_rob_lo"]))
            or (_beyond(b["ce_eff_hi"], a["ce_eff_lo"]) and _beyond(a["ce_rob_hi"], b["ce_rob_lo"]))
            for a, b in pairs
        ):
            trade += 1
        elif len(free) == 1:
            best += 1
        else:
            undecided += 1
    return trade, best, undecided


def frontier_findings(frontier: pd.DataFrame | None) -> list[dict]:
    """ "The strategies trace a frontier": a trade-off beyond noise between non-dominated strategies.
    Rule: supported iff some point trades off and at least as many trade off as have one best
    strategy; contradicted iff some point has one best and none trades off; else inconclusive."""
    claim, statistic = (
        "the strategies trace a frontier (a trade-off, not one best strategy)",
        ("(N, D) points where two non-dominated strategies trade ce_eff for ce_rob beyond seed noise"),
    )
    missing = _missing(frontier, FRONTIER_COLUMNS, "frontier.tsv")
    if missing:
        return [_row(claim, statistic, would_decide=missing)]
    trade, best, undecided = frontier_verdict(frontier)
    decided = trade + best
    if trade > 0 and trade >= best:
        verdict = "supported"
    elif best > 0 and trade == 0:
        verdict = "contradicted"
    else:
        verdict = "inconclusive"
    seeds = int(frontier["n_seeds"].min()) if len(frontier) else 0
    would = (
        ""
        if verdict != "inconclusive"
        else (
            f"no point separates its strategies beyond seed noise (fewest seeds: {seeds}): add seeds"
            if decided == 0
            else "as many points with one best strategy as trade-offs: add seeds"
        )
    )
    evidence = f"{trade} trade-off, {best} one-best, {undecided} undecided points"
    return [_row(claim, statistic, trade, (np.nan, np.nan), verdict, would, evidence)]


def _slopes(points: pd.DataFrame, axis: str, family: str) -> float:
    x = np.log(points["non_embedding_params" if axis == "N" else "data_size"].astype(float))
    return float(np.polyfit(x, np.log(points[family].astype(float)), 1)[0]) if x.nunique() >= 2 else np.nan


def _side(strategy_points: pd.DataFrame, standard_points: pd.DataFrame) -> str:
    """Which side a strategy favours against standard at the same points (means)."""
    keys = ["non_embedding_params", "data_size"]
    both = strategy_points.merge(standard_points, on=keys, suffixes=("", "_std"))
    if both.empty:
        return "neither"
    d_eff = (both["ce_eff"] - both["ce_eff_std"]).mean()
    d_rob = (both["ce_rob"] - both["ce_rob_std"]).mean()
    if d_rob < 0 < d_eff:
        return "robustness"
    if d_eff < 0 < d_rob:
        return "effectiveness"
    return "neither"


def direction_findings(
    by_seed: pd.DataFrame | None, baseline: str = "standard", family: str = "ce_joint"
) -> list[dict]:
    """ "A strategy that favours one side scales in a worse direction": per strategy and axis, the
    slope of log ce_joint against log N (or log D) minus the standard strategy's over the same
    points, per seed; positive = it improves less per doubling. t interval over seeds.
    Rule: supported iff the strategy favours one side (on ce_eff vs ce_rob against standard)
    and the interval lies above 0; contradicted iff it favours one side and lies below 0."""
    claim_all = "a strategy that favours one side scales in a worse direction"
    missing = _missing(by_seed, ["seed", family, "ce_eff", "ce_rob"], "families_by_seed.tsv")
    if missing:
        return [_row(claim_all, "slope difference of log ce_joint", would_decide=missing)]
    rows = []
    keys = ["non_embedding_params", "data_size"]
    standard = by_seed[by_seed["strategy"] == baseline]
    for strategy, mine in by_seed[by_seed["strategy"] != baseline].groupby("strategy"):
        side = _side(
            mine.groupby(keys)[["ce_eff", "ce_rob"]].mean().reset_index(),
            standard.groupby(keys)[["ce_eff", "ce_rob"]].mean().reset_index(),
        )
        for axis, other in (("N", "data_size"), ("D", "non_embedding_params")):
            diffs = []
            for seed, seed_points in mine.groupby("seed"):
                for _, line in seed_points.groupby(other):
                    ref = standard[
                        (standard["seed"] == seed)
                        & standard[keys[0]].isin(line[keys[0]])
                        & standard[keys[1]].isin(line[keys[1]])
                    ]
                    diff = _slopes(line, axis, family) - _slopes(ref, axis, family)
                    if np.isfinite(diff):
                        diffs.append(diff)
            if not diffs:
                continue
            diffs = np.array(diffs)
            estimate = float(diffs.mean())
            if len(diffs) >= 2:
                half = stats.t.ppf((1 + LEVEL) / 2, len(diffs) - 1) * diffs.std(ddof=1) / np.sqrt(len(diffs))
                ci = (estimate - half, estimate + half)
            else:
                ci = (np.nan, np.nan)
            verdict = interval_verdict(*ci, 0.0, claim_above=True) if side != "neither" else "inconclusive"
            would = ""
            if side == "neither":
                would = f"{strategy} does not favour one side against {baseline} (on the seed means)"
            elif verdict == "inconclusive":
                would = "one slope per seed: add seeds" if len(diffs) < 2 else "the interval contains 0: add seeds"
            rows.append(
                _row(
                    f"{strategy} (favours {side}) scales in a worse direction along {axis} than {baseline}",
                    f"slope of log {family} per log {axis}, {strategy} minus {baseline} (> 0: worse)",
                    estimate,
                    ci,
                    verdict,
                    would,
                    f"{len(diffs)} slope differences (seeds x lines)",
                )
            )
    if not rows:
        rows.append(
            _row(
                claim_all,
                "slope difference of log ce_joint",
                would_decide=(
                    "no strategy other than standard runs at two values of N or D: "
                    "add a model and a data size to strategy_points"
                ),
            )
        )
    return rows


def efficiency_findings(efficiency: pd.DataFrame | None, family: str = "ce_joint") -> list[dict]:
    """Pareto training's efficiency multiple k (resource a baseline needs to match it) at its
    largest grid point, per baseline and axis. Rule: supported iff the interval of k lies above 1
    (Pareto training matches a baseline with more model or data), contradicted iff below 1."""
    claim = "Pareto training matches baselines trained with more model (k_N) or data (k_D)"
    if efficiency is None or efficiency.empty:
        return [_row(claim, "efficiency multiple k", would_decide="no Pareto-trained runs: add 'pareto' to strategies")]
    rows = []
    for (strategy, baseline), table in efficiency.groupby(["strategy", "baseline"], sort=False):
        point = table.sort_values(["non_embedding_params", "data_size"]).iloc[-1]
        for axis in ("N", "D"):
            k = point.get(f"k_{axis}", np.nan)
            statistic = f"k_{axis} at N = {point['non_embedding_params']:.3g}, D = {point['data_size']:g}"
            lo, hi = point.get(f"k_{axis}_lo", np.nan), point.get(f"k_{axis}_hi", np.nan)
            missing = (
                ""
                if f"k_{axis}_lo" in efficiency.columns
                else (f"efficiency.tsv lacks k_{axis}_lo / k_{axis}_hi (intervals from >= 2 seeds)")
            )
            verdict = "inconclusive" if missing else interval_verdict(float(lo), float(hi), 1.0, claim_above=True)
            would = missing or (
                ""
                if verdict != "inconclusive"
                else (
                    f"baseline law: {point['note']}"
                    if isinstance(point.get("note"), str) and point["note"]
                    else "the interval contains 1: add seeds"
                )
            )
            rows.append(
                _row(
                    f"{strategy} matches {baseline} with more {'model' if axis == 'N' else 'data'}",
                    statistic,
                    float(k),
                    (float(lo), float(hi)),
                    verdict,
                    would,
                    f"{family} {float(point[family]):.3f}" if family in point else "",
                )
            )
    return rows


def cost_findings(cost_fits: pd.DataFrame | None, stages=("train", "attack")) -> list[dict]:
    """The cost exponents in N (CPU seconds). Rule: supported iff the exponent's interval lies
    above 0 and R^2 >= 0.9; contradicted iff it lies below 0; else inconclusive."""
    rows = []
    for stage in stages:
        claim = f"{stage} cost grows as a power law in N"
        fit = None
        if cost_fits is not None and len(cost_fits):
            pick = cost_fits[
                (cost_fits["stage"] == stage)
                & (cost_fits["quantity"] == "cpu_time")
                & cost_fits["strategy"].isin(["standard", "all"])
            ]
            fit = pick.iloc[0].to_dict() if len(pick) else None
        statistic = "exponent of CPU seconds in N (cost = c N^a D^b)"
        if fit is None or fit["status"] != "ok":
            rows.append(
                _row(
                    claim,
                    statistic,
                    would_decide="no cost fit: " + ("no benchmark files" if fit is None else fit["status"]),
                )
            )
            continue
        ci = (fit["exp_N_lo"], fit["exp_N_hi"])
        verdict = interval_verdict(*ci, 0.0, claim_above=True)
        if verdict == "supported" and fit["r2"] < R2_SUPPORT:
            verdict = "inconclusive"
        would = "" if verdict != "inconclusive" else "the interval contains 0 or R^2 < 0.9: add models"
        rows.append(
            _row(
                claim,
                statistic,
                fit["exp_N"],
                ci,
                verdict,
                would,
                f"D exponent {fit['exp_D']:.2f} [{fit['exp_D_lo']:.2f}, {fit['exp_D_hi']:.2f}], "
                f"R^2 {fit['r2']:.3f}, {int(fit['n_points'])} jobs on {fit['device']}",
            )
        )
    return rows


def _architectures(*tables) -> list[str]:
    names = set()
    for table in tables:
        if table is not None and "architecture" in table.columns:
            names |= set(table["architecture"].dropna().unique())
    return sorted(names)


def _of(table: pd.DataFrame | None, architecture: str | None) -> pd.DataFrame | None:
    """One architecture's rows (None, or a table without the column: the whole table)."""
    if table is None or architecture is None or "architecture" not in table.columns:
        return table
    return table[table["architecture"] == architecture]


def architecture_findings(fits: pd.DataFrame, draws: pd.DataFrame, strategy: str = "standard",
                          families=POWER_LAW_FAMILIES) -> list[dict]:
    """Do the exponents transfer across architectures: per family and exponent of the joint law,
    the difference between two architectures' exponents with a percentile interval over the
    bootstrap draws (each architecture's draws resample its own grid points independently, so
    draw i of one against draw i of the other is a draw of the difference). Rule: contradicted
    (the exponents differ) iff the interval excludes 0 and both joint laws fit with R^2 >= 0.9;
    else inconclusive (an interval around 0 does not prove them equal, and the exponent of a law
    that does not fit describes no power law to compare)."""
    names = _architectures(fits)
    rows = []
    for a, b in [(a, b) for i, a in enumerate(names) for b in names[i + 1:]]:
        for family in families:
            for exponent in ("alpha", "beta"):
                claim = (f"{LABELS.get(family, family)}: {exponent} of the joint law transfers from {a} to {b} "
                         f"({strategy})")
                statistic = f"{exponent}({b}) - {exponent}({a})"
                fa, fb = (_fit_row(_of(fits, x), strategy, family, "joint") for x in (a, b))
                if fa is None or fb is None or fa["status"] != "ok" or fb["status"] != "ok":
                    status = [f"{x}: {'no fit' if f is None else f['status']}" for x, f in ((a, fa), (b, fb))
                              if f is None or f["status"] != "ok"]
                    rows.append(_row(claim, statistic, would_decide="joint law " + "; ".join(status)))
                    continue
                per = [_of(draws, x) for x in (a, b)]
                per = [d[(d["strategy"] == strategy) & (d["family"] == family) & (d["law"] == "joint")]
                       .set_index("draw")[exponent] for d in per]
                diff = (per[1] - per[0]).dropna().to_numpy(float)
                lo, hi = _percentiles(diff)
                poor = [f"the joint law of {x} fits with R^2 {f['r2']:.3f} < {R2_SUPPORT}"
                        for x, f in ((a, fa), (b, fb)) if not f["r2"] >= R2_SUPPORT]
                excludes_0 = bool(np.isfinite(lo) and (lo > 0 or hi < 0))
                verdict = "contradicted" if excludes_0 and not poor else "inconclusive"
                would = ("; ".join(poor) + ": add seeds or grid points until both fit" if poor
                         else "" if excludes_0 else "the interval contains 0: add seeds or grid points")
                rows.append(_row(claim, statistic, fb[exponent] - fa[exponent], (lo, hi), verdict, would,
                                 f"{a} {fa[exponent]:.3f} [{fa[f'{exponent}_lo']:.3f}, {fa[f'{exponent}_hi']:.3f}], "
                                 f"{b} {fb[exponent]:.3f} [{fb[f'{exponent}_lo']:.3f}, {fb[f'{exponent}_hi']:.3f}]"))
    return rows


def findings_table(fits, draws, families_df, frontier=None, efficiency=None, by_seed=None, cost_fits=None):
    """Every claim's row (``FINDING_COLUMNS``), in the order of the study's questions. On a grid
    with several architectures every law-based claim is judged per architecture (its claim
    prefixed with the architecture's name), followed by the exponents compared across them; the
    cost claims pool the jobs."""
    names = _architectures(fits, families_df, by_seed)
    rows = []
    for architecture in (names if len(names) > 1 else [None]):
        part = [
            *power_law_findings(_of(fits, architecture)),
            *sensitivity_findings(_of(fits, architecture), _of(draws, architecture), _of(families_df, architecture)),
            *frontier_findings(_of(frontier, architecture)),
            *direction_findings(_of(by_seed, architecture)),
            *efficiency_findings(_of(efficiency, architecture)),
        ]
        rows += part if architecture is None else [{**r, "claim": f"{architecture}: {r['claim']}"} for r in part]
    if len(names) > 1:
        rows += architecture_findings(fits, draws)
    rows += cost_findings(cost_fits)
    return pd.DataFrame(rows, columns=FINDING_COLUMNS)
