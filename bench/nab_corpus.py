"""The NAB corpus a bench script is pointed at: `--data DIR --labels FILE` on its command line."""

from __future__ import annotations

import argparse
import sys

from central import nab

# The axes the search had before the seventh pass of issue 14 fixed the novelty scale at HTM's
# spatial tolerance and the refractory period at ARTime's mask: the scripts of the earlier
# passes search them as they did then.
EARLIER_SEARCH: dict[str, tuple[float, ...]] = {
    "likelihood_scale": (1.6, 2.0, 2.5),
    "novelty_scale": (0.04, 0.058, 0.08),
    "refractory": (15, 30, 60),
}


def take_only() -> str | None:
    """Take `--only NAME` out of sys.argv (before corpus_from_argv parses the rest)."""
    if "--only" not in sys.argv:
        return None
    at = sys.argv.index("--only")
    only = sys.argv[at + 1]
    del sys.argv[at : at + 2]
    return only


def corpus_from_argv(description: str) -> list[nab.Series]:
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--data", required=True, help="NAB data folder (one folder per category)")
    ap.add_argument("--labels", required=True, help="NAB combined_windows.json")
    args = ap.parse_args()
    return nab.load_corpus(args.data, args.labels)
