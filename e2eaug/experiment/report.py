"""An experiment's reports: ``results.csv``, ``results.md`` with paired tests, and figures.

``results.md`` groups rows by data, image size, training size, segmenter and test set, gives
mean +- std over seeds per augmenter (best mean in bold), and compares the method with the best
baseline of the group. The best baseline is the one with the highest mean *validation* Dice,
so nothing is chosen on a test set. Every label whose augmenter class says it is the method
(``is_method``: ``e2eaug``, its variants, a plug-in subclass) is compared with it. The
comparison is a Wilcoxon signed-rank test (two-sided) on per-image scores paired by (seed,
image): both runs of a seed saw the same training pairs and are scored on the same test
images. Those pairs are not independent across seeds (the same image appears once per seed),
so the p-value is optimistic; the per-seed wins are given beside it.
"""

from __future__ import annotations

import csv
import json
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from e2eaug.config import read_yaml
from e2eaug.registry import AUGMENTERS
from e2eaug.rundir import RunDir
from e2eaug.utils import atomic_write, atomic_write_text, csv_text

from .spec import ExperimentSpec

COLUMNS = ("data", "image_size", "n_train", "segmenter", "augmenter", "seed", "test_set", "n_images", "dice", "jaccard",
           "hd95", "nsd")
SCORES = ("dice", "jaccard", "hd95", "nsd")  # hd95 and nsd are empty for runs evaluated before they existed


def is_method(augmenter: str) -> bool:
    """Whether the registered augmenter ``augmenter`` is the method (its class's ``is_method``)."""
    return AUGMENTERS.get(augmenter).is_method


def run_rows(run: RunDir, labels: Dict[str, Any]) -> List[Dict[str, Any]]:
    """One row per test set of a finished run (``labels`` gives data, segmenter, ...)."""
    results = json.loads(run.results_path.read_text(encoding="utf-8"))
    return [
        {**labels, "test_set": name, "n_images": r["n"], **{m: r.get(m) for m in SCORES},
         "val_dice": results["best_val"]["dice"], "scored_at": r.get("scored_at", "the training size")}
        for name, r in results["tests"].items()
    ]


def per_image(run: RunDir) -> Dict[Tuple[str, str], Tuple[float, float]]:
    """``{(test_set, image): (dice, jaccard)}`` from a run's ``per_image.csv``."""
    with open(run.per_image_path, newline="", encoding="utf-8") as fh:
        return {(r["test_set"], r["image"]): (float(r["dice"]), float(r["jaccard"])) for r in csv.DictReader(fh)}


def experiment_rows(spec: ExperimentSpec) -> Tuple[List[Dict[str, Any]], Dict[str, RunDir]]:
    """Rows of every finished cell, and the cells' run folders by label."""
    rows, runs = [], {}
    for cell in spec.cells():
        run = RunDir(cell.path)
        if not (run.results_path.is_file() and run.per_image_path.is_file()):
            continue
        labels = {"data": cell.data, "image_size": cell.config.data.image_size, "n_train": cell.n_train,
                  "segmenter": cell.segmenter, "augmenter": cell.augmenter, "seed": cell.seed, "label": cell.label,
                  "method": is_method(cell.config.augmenter.name)}
        rows.extend(run_rows(run, labels))
        runs[cell.label] = run
    return rows, runs


def results_csv(rows: Iterable[Dict[str, Any]]) -> str:
    """``results.csv``: exactly :data:`COLUMNS`, one row per cell and test set."""
    def cell(row: Dict[str, Any], column: str) -> Any:
        if column not in SCORES:
            return row[column]
        return "" if row[column] is None else f"{row[column]:.6f}"

    return csv_text(COLUMNS, ([cell(r, c) for c in COLUMNS] for r in rows))


def _mean_std(values: Sequence[Optional[float]]) -> str:
    if any(v is None for v in values):
        return "-"
    mean = statistics.fmean(values)
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{mean:.4f} +- {std:.4f}"


def paired_test(method: Dict[int, RunDir], baseline: Dict[int, RunDir], test_set: str, metric: str) -> Dict[str, Any]:
    """Wilcoxon signed-rank test of per-image scores paired by (seed, image), both ways."""
    from scipy.stats import wilcoxon

    index = 0 if metric == "dice" else 1
    diffs, wins = [], 0
    seeds = sorted(set(method) & set(baseline))
    for seed in seeds:
        a, b = per_image(method[seed]), per_image(baseline[seed])
        keys = sorted(k for k in a if k[0] == test_set and k in b)
        seed_diffs = [a[k][index] - b[k][index] for k in keys]
        diffs += seed_diffs
        wins += statistics.fmean(seed_diffs) > 0 if seed_diffs else 0
    nonzero = [d for d in diffs if d != 0]
    p = float(wilcoxon(nonzero).pvalue) if len(nonzero) >= 2 else float("nan")
    return {"n_pairs": len(diffs), "seeds": len(seeds), "wins": int(wins), "mean_diff": statistics.fmean(diffs) if diffs else float("nan"), "p": p}


def markdown(spec: ExperimentSpec, rows: List[Dict[str, Any]], runs: Dict[str, RunDir]) -> str:
    """``results.md``: mean +- std per group and augmenter, and e2eaug against the best baseline."""
    metric = spec.metric
    groups: Dict[tuple, List[Dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[(r["data"], r["image_size"], r["n_train"], r["segmenter"], r["test_set"])].append(r)
    lines = [f"# Experiment {spec.folder.name}", "",
             f"Mean +- std over seeds of each run's mean per-image score; best mean {metric} in bold. "
             "`val Dice` is the best validation Dice (model selection). "
             "The method (e2eaug and each variant of it) is compared with the baseline of best mean validation Dice, "
             "and each pair the file's `compare` names with each other: "
             "Wilcoxon signed-rank test (two-sided) on per-image scores paired by (seed, image); the "
             "pairs repeat each image once per seed, so the p-value is optimistic.", ""]
    for (data, size, n, segmenter, test_set), group in sorted(groups.items()):
        by_aug: Dict[str, List[Dict[str, Any]]] = defaultdict(list)
        for r in group:
            by_aug[r["augmenter"]].append(r)
        means = {a: statistics.fmean(r[metric] for r in rs) for a, rs in by_aug.items()}
        best = max(means, key=means.get)
        scored = ", ".join(sorted({str(r["scored_at"]) for r in group}))
        heading = f"## {data}, {size} px, {n} training pairs, {segmenter}, test set `{test_set}`"
        lines += [f"{heading} (scored at {scored})", "",
                  "| augmenter | seeds | Dice | Jaccard | HD95 (px) | NSD | val Dice |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for aug in spec.augmenters:
            if aug not in by_aug:
                continue
            rs = by_aug[aug]
            cells = {m: _mean_std([r[m] for r in rs]) for m in SCORES}
            if aug == best:
                cells[metric] = f"**{cells[metric]}**"
            lines.append(f"| {aug} | {len(rs)} | {cells['dice']} | {cells['jaccard']} | {cells['hd95']} | "
                         f"{cells['nsd']} | {_mean_std([r['val_dice'] for r in rs])} |")
        variants = [a for a in by_aug if by_aug[a][0]["method"]]
        baselines = [a for a in by_aug if not by_aug[a][0]["method"]]
        pairs = []
        if variants and baselines:
            val = {a: statistics.fmean(r["val_dice"] for r in by_aug[a]) for a in baselines}
            chosen = max(val, key=val.get)
            pairs = [(variant, chosen, " (best baseline by validation)") for variant in variants]
        chosen_pairs = {(a, b) for a, b, _ in pairs}
        pairs += [(a, b, "") for a, b in spec.compare if a in by_aug and b in by_aug and (a, b) not in chosen_pairs]
        if pairs:
            lines.append("")
        for a, b, note in pairs:
            result = paired_test({r["seed"]: runs[r["label"]] for r in by_aug[a]},
                                 {r["seed"]: runs[r["label"]] for r in by_aug[b]}, test_set, metric)
            verdict = "higher" if result["mean_diff"] > 0 else "lower"
            lines.append(f"- `{a}` vs `{b}`{note}: {metric} {verdict} by "
                         f"{abs(result['mean_diff']):.4f} on average, ahead in {result['wins']} of "
                         f"{result['seeds']} seeds; Wilcoxon signed-rank p = {result['p']:.3g} "
                         f"over {result['n_pairs']} (seed, image) pairs.")
        lines.append("")
    return "\n".join(lines)


def figures(spec: ExperimentSpec, rows: List[Dict[str, Any]]) -> List[Path]:
    """Metric against training size per (data, segmenter, test set), one line per augmenter
    (mean +- std over seeds); and bars of every augmenter per training size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metric, written = spec.metric, []
    groups: Dict[tuple, List[Dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[(r["data"], r["segmenter"], r["test_set"])].append(r)
    for (data, segmenter, test_set), group in sorted(groups.items()):
        stats: Dict[str, Dict[int, List[float]]] = defaultdict(lambda: defaultdict(list))
        for r in group:
            stats[r["augmenter"]][r["n_train"]].append(r[metric])
        augs = [a for a in spec.augmenters if a in stats]
        is_method_label = {r["augmenter"]: r["method"] for r in group}
        sizes = sorted({r["n_train"] for r in group})
        fig, (line_ax, bar_ax) = plt.subplots(1, 2, figsize=(11, 4))
        for aug in augs:
            xs = sorted(stats[aug])
            ys = [statistics.fmean(stats[aug][x]) for x in xs]
            es = [statistics.stdev(stats[aug][x]) if len(stats[aug][x]) > 1 else 0 for x in xs]
            line_ax.errorbar(xs, ys, yerr=es, marker="o", capsize=3, label=aug,
                             linewidth=2.5 if is_method_label[aug] else 1.2)
        line_ax.set(xlabel="training pairs", ylabel=metric, title=f"{data} / {test_set} ({segmenter})", xticks=sizes)
        line_ax.legend(fontsize=7)
        width = 0.8 / max(len(sizes), 1)
        for i, n in enumerate(sizes):
            vals = [stats[a][n] for a in augs]
            bar_ax.bar([j + i * width for j in range(len(augs))], [statistics.fmean(v) if v else 0 for v in vals],
                       width, yerr=[statistics.stdev(v) if len(v) > 1 else 0 for v in vals], capsize=2, label=f"n={n}")
        bar_ax.set_xticks([j + width * (len(sizes) - 1) / 2 for j in range(len(augs))], augs, rotation=30, fontsize=7)
        lows = [min(v) for a in augs for v in stats[a].values() if v]
        bar_ax.set(ylabel=metric, ylim=(max(0.0, min(lows) - 0.05), min(1.0, max(r[metric] for r in group) + 0.02)))
        bar_ax.legend(fontsize=7)
        fig.tight_layout()
        path = spec.folder / f"figure_{data}_{segmenter}_{test_set}.png"
        atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
        plt.close(fig)
        written.append(path)
    return written


def write_reports(spec: ExperimentSpec) -> List[Path]:
    """``results.csv``, ``results.md`` and the figures of the finished cells."""
    rows, runs = experiment_rows(spec)
    csv_path, md_path = spec.folder / "results.csv", spec.folder / "results.md"
    atomic_write_text(csv_path, results_csv(rows))
    atomic_write_text(md_path, markdown(spec, rows, runs) + "\n")
    return [csv_path, md_path, *(figures(spec, rows) if rows else [])]


def compare_table(paths: Sequence[str | Path]) -> str:
    """One table over run folders (an experiment folder stands for its cells)."""
    runs: List[RunDir] = []
    for path in map(Path, paths):
        if (path / "experiment.yaml").is_file():
            runs += [RunDir(p) for p in sorted(path.iterdir()) if (p / "results.json").is_file()]
        else:
            run = RunDir.open(path)
            if not run.results_path.is_file():
                raise FileNotFoundError(f"{path}: no results.json (run `e2eaug evaluate --run {path}` first)")
            runs.append(run)
    header = (f"{'run':<40}{'augmenter':>11}{'n_train':>8}{'seed':>5}  {'test set':<10}{'n':>5}{'Dice':>8}"
              f"{'Jaccard':>9}{'HD95':>8}{'NSD':>8}")
    lines = [header]
    for run in runs:
        cfg = read_yaml(run.config_path)
        labels = {"augmenter": cfg["augmenter"]["name"], "n_train": cfg["data"]["n_train"], "seed": cfg["seed"]}
        for r in run_rows(run, labels):
            lines.append(f"{run.path.name[:39]:<40}{r['augmenter']:>11}{r['n_train']:>8}{r['seed']:>5}  "
                         f"{r['test_set']:<10}{r['n_images']:>5}{r['dice']:>8.4f}{r['jaccard']:>9.4f}"
                         + "".join(f"{'-' if r[m] is None else format(r[m], '.2f' if m == 'hd95' else '.4f'):>8}"
                                   for m in ("hd95", "nsd")))
    return "\n".join(lines)
