"""The NAB corpus a bench script is pointed at: `--data DIR --labels FILE` on its command line."""

from __future__ import annotations

import argparse

from central import nab


def corpus_from_argv(description: str) -> list[nab.Series]:
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--data", required=True, help="NAB data folder (one folder per category)")
    ap.add_argument("--labels", required=True, help="NAB combined_windows.json")
    args = ap.parse_args()
    return nab.load_corpus(args.data, args.labels)
