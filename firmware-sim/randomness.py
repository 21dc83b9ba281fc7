"""Seeded randomness that depends only on (seed, what, when), never on how fast the run goes.

Each tick draws from its own generator keyed by the tick number, and stateless choices (a
controller's pedestrian call in a given cycle) come from a counter-based hash, so a replayed
scenario with the same seed produces the same bytes.
"""

from __future__ import annotations

import numpy as np

_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def tick_rng(seed: int, stream: int, tick: int) -> np.random.Generator:
    """The generator for one stream (a sensor type, the fault planner...) at one tick."""
    return np.random.default_rng([seed & 0xFFFFFFFF, stream, tick])


def _splitmix64(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return (z ^ (z >> np.uint64(31))) & _MASK64


def hash_uniform(seed: int, *keys: np.ndarray | int) -> np.ndarray:
    """Uniform [0, 1) values, one per element of the broadcast keys, a pure function of them."""
    acc = np.asarray(np.uint64(seed & 0xFFFFFFFFFFFFFFFF))
    for key in keys:
        acc = _splitmix64(acc ^ np.asarray(key).astype(np.uint64))
    return (acc >> np.uint64(11)).astype(np.float64) / float(1 << 53)
