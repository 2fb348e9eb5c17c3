"""Fit saved scaling curves again at other lower-order margins: how often each is named right.

    python benchmarks/scaling_refit.py FITS.json [FITS.json ...] [--margins 1.2 1.5 2]

Reads what ``scaling_accuracy.py --save`` wrote (every time fit's sizes and
samples) and names each curve's order again with
``growth.LOWER_ORDER_MARGIN_TIME`` set to each margin, on the same medians a
scaling check fits. Prints, per file and margin, how many of each
workload's CPU-time curves were named right, so margins are compared on the
same measured curves.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pytest_aide.growth as growth

TRUTH = {"linear": "n", "n log n": "n log n", "quadratic": "n²"}


def main() -> None:
    """Print, per file and margin, the CPU-time curves named right by workload."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--margins", nargs="+", type=float, default=[1.2, 1.5, 2.0])
    args = parser.parse_args()
    totals = dict.fromkeys(args.margins, 0)
    for path in args.files:
        curves = [c for c in json.loads(path.read_text()) if c["clock"] == "cpu"]
        for margin in args.margins:
            growth.LOWER_ORDER_MARGIN_TIME = margin
            right = dict.fromkeys(TRUTH, 0)
            runs = dict.fromkeys(TRUTH, 0)
            for curve in curves:
                medians = [statistics.median(s) for s in curve["samples"]]
                best, _ = growth._best(curve["sizes"], medians, exact=False)
                runs[curve["name"]] += 1
                right[curve["name"]] += best.name == TRUTH[curve["name"]]
            totals[margin] += sum(right.values())
            shown = "  ".join(f"{w} {right[w]}/{runs[w]}" for w in TRUTH)
            print(f"{path.name}  x{margin:g}:  {shown}  ({sum(right.values())} right)")
    print("in all: " + ", ".join(f"x{m:g} {n}" for m, n in totals.items()))


if __name__ == "__main__":
    main()
