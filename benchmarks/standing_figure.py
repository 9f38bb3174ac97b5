"""Figure 2 of the README: every augmenter's test score on each set of the standing, from the
committed ``results.csv`` files.

    python -m benchmarks.standing_figure [--results benchmarks/results/standing] [--out FILE.png]

One panel per data set and test set, one bar per augmenter (mean over seeds, the seeds' standard
deviation as the error bar), in the metric each experiment compares on (Dice for JSRT, Jaccard
for PH2 and the synthetic skin).
"""

from __future__ import annotations

import argparse
import csv
import statistics
from collections import defaultdict
from pathlib import Path

import yaml

#: The standing's folders, in the figure's order.
FOLDERS = ("skin", "jsrt9", "jsrt35", "ph2")


def panels(root: Path):
    """``[(title, metric, {augmenter: [score per seed]})]`` in :data:`FOLDERS` order."""
    out = []
    for folder in FOLDERS:
        spec = yaml.safe_load((root / folder / "experiment.yaml").read_text(encoding="utf-8"))
        metric = spec["metric"]
        groups = defaultdict(lambda: defaultdict(list))
        with open(root / folder / "results.csv", newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                groups[(row["data"], row["n_train"], row["test_set"])][row["augmenter"]].append(float(row[metric]))
        for (data, n, test_set), scores in sorted(groups.items()):
            title = f"{data}, {n} images" + (f", `{test_set}`" if test_set != "test" else "")
            out.append((title, metric, {a: scores[a] for a in spec["augmenters"] if a in scores}))
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", default="benchmarks/results/standing", help="folder of the standing's folders")
    parser.add_argument("--out", default="benchmarks/results/standing/figure2.png")
    args = parser.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    found = panels(Path(args.results))
    fig, axes = plt.subplots(1, len(found), figsize=(3.2 * len(found), 3.4))
    for ax, (title, metric, scores) in zip(axes, found):
        names = list(scores)
        means = [statistics.fmean(scores[a]) for a in names]
        stds = [statistics.stdev(scores[a]) if len(scores[a]) > 1 else 0.0 for a in names]
        colors = ["tab:red" if a.startswith("e2eaug") else "tab:gray" for a in names]
        ax.bar(range(len(names)), means, yerr=stds, color=colors, capsize=2)
        low = min(m - s for m, s in zip(means, stds))
        ax.set_ylim(low - 0.02, max(m + s for m, s in zip(means, stds)) + 0.01)
        ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=7)
        ax.set_title(title, fontsize=8)
        ax.set_ylabel(f"test {metric}", fontsize=8)
        for name, mean in zip(names, means):
            print(f"{title:<28} {name:<15} {metric} {mean:.4f}")
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
