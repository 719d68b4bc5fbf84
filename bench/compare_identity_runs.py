"""Compare two sets of identity-benchmark reports (``bench_identity.py`` JSON): code A vs B.

Each side is a list of reports (any data seeds, any training seeds); runs are matched by
(data seed, training seed). Prints one markdown table: switches per clip and training seed
with the worst IDF1, each model's total, the clips under the IDF1 bar, and two tests on the
per-model totals: the rank-sum test (the sides as independent samples) and the signed-rank
test on pairs with the same data and training seed (the same initial weights and data
order, so only the code differs).

    python bench/compare_identity_runs.py --a before R1.json R2.json --b after R3.json R4.json
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

IDF1_BAR = 0.95  # ../shared/TARGETS.md: IDF1 >= 0.95 on every clip, worst seed


def load_runs(paths: list[Path]) -> dict[tuple[int, int], dict[str, tuple[int, float]]]:
    """``{(data seed, training seed): {clip: (switches, IDF1)}}`` from the reports ``paths``."""
    runs: dict[tuple[int, int], dict[str, tuple[int, float]]] = {}
    for path in paths:
        report = json.loads(path.read_text())
        for seed, run in report["gtr"].items():
            key = (int(report["seed"]), int(seed))
            if key in runs:
                raise SystemExit(f"{path}: data seed {key[0]}, seed {key[1]} given twice")
            order = report.get("clips") or list(run["clips"])  # the report's clip order
            runs[key] = {
                clip: (int(run["clips"][clip]["switches"]), float(run["clips"][clip]["idf1"]))
                for clip in order
            }
    return runs


def table(name_a: str, a: dict, name_b: str, b: dict) -> str:
    """The markdown comparison of the runs ``a`` and ``b``."""
    from scipy.stats import mannwhitneyu, wilcoxon

    by_data: dict[int, set[int]] = defaultdict(set)
    for data, seed in a.keys() | b.keys():
        by_data[data].add(seed)
    lines = [
        f"| data set, clip | {name_a} | {name_b} |",
        "|---|---|---|",
    ]
    worse = better = same = 0
    for data in sorted(by_data):
        seeds = sorted(by_data[data])
        clips = (a.get((data, seeds[0])) or b[(data, seeds[0])]).keys()
        for clip in clips:
            cells = []
            for side in (a, b):
                vals = [side.get((data, s), {}).get(clip) for s in seeds]
                switches = " / ".join("–" if v is None else str(v[0]) for v in vals)
                idf1 = min(v[1] for v in vals if v is not None)
                cells.append(f"{switches} (IDF1 ≥ {idf1:.3f})")
            for s in seeds:
                if (data, s) in a and (data, s) in b:
                    va, vb = a[(data, s)][clip][0], b[(data, s)][clip][0]
                    worse += vb > va
                    better += vb < va
                    same += vb == va
            lines.append(
                f"| {data}, {clip} (seeds {seeds[0]}–{seeds[-1]}) | {cells[0]} | {cells[1]} |"
            )
    tot_a = {k: sum(sw for sw, _ in v.values()) for k, v in a.items()}
    tot_b = {k: sum(sw for sw, _ in v.values()) for k, v in b.items()}
    low = [sum(idf1 < IDF1_BAR for v in side.values() for _, idf1 in v.values()) for side in (a, b)]
    lines += [
        f"| all models | {sum(tot_a.values())} over {len(tot_a)} "
        f"(per model {min(tot_a.values())}–{max(tot_a.values())}) | {sum(tot_b.values())} over "
        f"{len(tot_b)} (per model {min(tot_b.values())}–{max(tot_b.values())}) |",
        f"| clips with IDF1 < {IDF1_BAR} | {low[0]} | {low[1]} |",
    ]
    paired = sorted(tot_a.keys() & tot_b.keys())
    diffs = [tot_b[k] - tot_a[k] for k in paired]
    rank_sum = mannwhitneyu(list(tot_a.values()), list(tot_b.values())).pvalue
    nonzero = [d for d in diffs if d]
    signed = wilcoxon(nonzero).pvalue if nonzero else 1.0
    lines += [
        "",
        f"Cells with both sides ({len(paired)} models): {name_b} worse in {worse}, better in "
        f"{better}, the same in {same}. Per-model totals: rank-sum p = {rank_sum:.3f}; "
        f"signed-rank over the {len(paired)} same-seed pairs ({len(nonzero)} differ) "
        f"p = {signed:.3f}.",
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--a", nargs="+", required=True, help="NAME then report JSONs")
    ap.add_argument("--b", nargs="+", required=True, help="NAME then report JSONs")
    args = ap.parse_args()
    if len(args.a) < 2 or len(args.b) < 2:
        ap.error("--a and --b each take a name and at least one report")
    runs_a, runs_b = load_runs(map(Path, args.a[1:])), load_runs(map(Path, args.b[1:]))
    print(table(args.a[0], runs_a, args.b[0], runs_b))


if __name__ == "__main__":
    main()
