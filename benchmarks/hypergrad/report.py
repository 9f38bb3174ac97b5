"""Outputs of a run: CSV of every row, markdown tables, and plots (matplotlib, Agg backend)."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Dict, Iterable, List, Sequence, Tuple

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks.hypergrad.methods import SAMA_WARMUP_STEPS  # noqa: E402
from benchmarks.hypergrad.suite import EXACT, IDENTITY  # noqa: E402

COLUMNS = ("study", "case", "size", "n_lower", "method", "knobs", "series", "cosine",
           "rel_error", "fd_error", "time_ms", "time_x_floor", "peak_kib", "mem_x_floor",
           "floor_ms", "floor_kib")

LEGEND = (
    "Errors are against the exact implicit-function-theorem hypergradient at the lower "
    "problems' exact optimum. `identity` is that formula with every inverse Hessian replaced by "
    "the identity, the quantity `darts` estimates by finite differences: darts' error splits "
    "into `identity`'s row (inverse-Hessian approximation) and its `fd error` column (error "
    "against the identity form). `x floor` divides a cost by that of one plain gradient of "
    "every lower problem. Time is the median wall time per hypergradient; peak is the tensor "
    "memory allocated during one hypergradient. `sama` is measured after "
    f"{SAMA_WARMUP_STEPS} Adam steps of each lower problem (then reset to the optimum), as it "
    "reads Adam's state.")


def write_csv(rows: Sequence[dict], path: Path) -> None:
    """One line per row, columns :data:`COLUMNS`."""
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows({key: row[key] for key in COLUMNS} for row in rows)


def markdown(rows: Sequence[dict], header: str) -> str:
    """The sweep tables (one per case) and the scaling tables (one per family and metric)."""
    parts = [header, "", LEGEND]
    for (case, size), group in _groups(rows, "sweep", ("case", "size")).items():
        first = group[0]
        parts += ["", f"## {case}, size {size}: {first['n_lower']} lower parameters "
                      f"(floor {first['floor_ms']:.3g} ms, {first['floor_kib']:.3g} KiB)", "",
                  "| method | knobs | cosine | rel. error | fd error | ms | x floor | peak KiB "
                  "| x floor |", "|---|---|---|---|---|---|---|---|---|"]
        parts += [f"| {r['method']} | {r['knobs']} | {r['cosine']:.4f} | {_e(r['rel_error'])} | "
                  f"{_e(r['fd_error'])} | {_g(r['time_ms'])} | {_g(r['time_x_floor'])} | "
                  f"{_g(r['peak_kib'])} | {_g(r['mem_x_floor'])} |" for r in group]
    for (case,), group in _groups(rows, "scaling", ("case",)).items():
        sizes = sorted({r["n_lower"] for r in group})
        for key, title in (("time_ms", "time (ms)"), ("peak_kib", "peak memory (KiB)"),
                           ("rel_error", "relative error")):
            parts += ["", f"## Scaling on {case}: {title} vs lower parameters", "",
                      "| method | knobs | " + " | ".join(str(n) for n in sizes)
                      + " | log-log slope | slope, last two sizes |",
                      "|---|---|" + "---|" * (len(sizes) + 2)]
            for (method, knobs), curve in _curves(group).items():
                if method == IDENTITY and key != "rel_error":
                    continue
                values = dict(curve[key])
                cells = " | ".join(_e(values.get(n, math.nan)) if key == "rel_error"
                                   else _g(values.get(n, math.nan)) for n in sizes)
                parts.append(f"| {method} | {knobs} | {cells} | {_g(slope(curve[key]))} | "
                             f"{_g(slope(curve[key][-2:]))} |")
    return "\n".join(parts) + "\n"


def plot_error_vs_cost(rows: Sequence[dict], out: Path) -> List[Path]:
    """Relative error against time per hypergradient (x floor), one figure per sweep case."""
    paths = []
    for (case, size), group in _groups(rows, "sweep", ("case", "size")).items():
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for series, points in _by(group, "series").items():
            if series in (EXACT, IDENTITY):
                continue
            ax.plot([p["time_x_floor"] for p in points],
                    [max(p["rel_error"], 1e-9) for p in points], marker="o", label=series)
        for row in group:
            if row["method"] == IDENTITY:
                ax.axhline(row["rel_error"], color="grey", ls="--", label="identity (darts limit)")
            if row["method"] == EXACT:
                ax.axvline(row["time_x_floor"], color="black", ls=":", label="exact reference")
        ax.set(xscale="log", yscale="log", xlabel="time per hypergradient / plain lower gradient",
               ylabel="relative error vs exact", title=f"{case}, size {size}")
        ax.set_ylim(top=10)
        ax.legend(fontsize=7, loc="lower left")
        paths.append(_save(fig, out / f"error_vs_cost_{case}-{size}.png"))
    return paths


def plot_scaling(rows: Sequence[dict], out: Path) -> List[Path]:
    """Time, peak memory and error against lower parameter count, one figure per family."""
    paths = []
    for (case,), group in _groups(rows, "scaling", ("case",)).items():
        fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
        for (method, knobs), curve in _curves(group).items():
            for ax, key in zip(axes, ("time_ms", "peak_kib", "rel_error")):
                points = [(n, v) for n, v in curve[key] if v > 0]
                if points and not (method == IDENTITY and key != "rel_error"):
                    ax.plot(*zip(*points), marker="o", label=f"{method} {knobs}")
        for ax, label in zip(axes, ("time per hypergradient (ms)", "peak tensor memory (KiB)",
                                    "relative error vs exact")):
            ax.set(xscale="log", yscale="log", xlabel="lower parameters", ylabel=label)
        axes[0].legend(fontsize=7)
        fig.suptitle(f"Scaling on {case}")
        paths.append(_save(fig, out / f"scaling_{case}.png"))
    return paths


def slope(points: Iterable[Tuple[float, float]]) -> float:
    """Least-squares slope of ``log y`` on ``log x`` over finite positive points (NaN if < 2)."""
    kept = [(x, y) for x, y in points if x > 0 and y > 0 and math.isfinite(y)]
    if len(kept) < 2:
        return math.nan
    xs, ys = np.log10(np.array(kept)).T
    return float(np.polyfit(xs, ys, 1)[0])


def _curves(rows: Sequence[dict]) -> Dict[Tuple[str, str], Dict[str, List[Tuple[int, float]]]]:
    """Per (method, knobs): each metric as ``(n_lower, value)`` points in size order."""
    curves: Dict[Tuple[str, str], Dict[str, List[Tuple[int, float]]]] = {}
    for row in sorted(rows, key=lambda r: r["n_lower"]):
        curve = curves.setdefault((row["method"], row["knobs"]), {})
        for key in ("time_ms", "peak_kib", "rel_error"):
            curve.setdefault(key, []).append((row["n_lower"], row[key]))
    return curves


def _groups(rows: Sequence[dict], study: str, keys: Tuple[str, ...]) -> Dict[tuple, List[dict]]:
    groups: Dict[tuple, List[dict]] = {}
    for row in rows:
        if row["study"] == study:
            groups.setdefault(tuple(row[k] for k in keys), []).append(row)
    return groups


def _by(rows: Sequence[dict], key: str) -> Dict[str, List[dict]]:
    out: Dict[str, List[dict]] = {}
    for row in rows:
        out.setdefault(row[key], []).append(row)
    return out


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _g(value: float) -> str:
    return "" if math.isnan(value) else f"{value:.3g}"


def _e(value: float) -> str:
    return "" if math.isnan(value) else f"{value:.2e}"
