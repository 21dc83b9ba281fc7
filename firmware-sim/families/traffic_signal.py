"""Traffic-signal controllers: a two-stage plan (north-south, then east-west) whose cycle length
follows the time-of-day demand and whose green split follows detector demand and pedestrian calls.

Phases are a pure function of (device, time): each stage runs green, 3 s amber, 2 s all-red, so
the approaches of the two stages are never green together unless a fault says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import numpy as np

from firmware_sim.families import FamilyFault, SimFamily
from firmware_sim.fault_window import PARTS, ActiveFault, Values
from firmware_sim.randomness import hash_uniform
from firmware_sim.serial_frames import traffic_line_frame

if TYPE_CHECKING:  # conditions import the scenario, which takes its fault types from here
    from firmware_sim.conditions import Conditions

APPROACHES: Final = ("N", "E", "S", "W")
DETECTORS: Final = 8  # two loops per approach: d1, d2 north; d3, d4 east; d5, d6 south; d7, d8 west
PHASE_NAMES: Final = np.array(["red", "amber", "green", "flashing"], dtype=object)
RED, AMBER, GREEN = 0, 1, 2
AMBER_S: Final = 3.0
ALL_RED_S: Final = 2.0
LOST_S: Final = 2 * (AMBER_S + ALL_RED_S)
MIN_GREEN_S: Final = 8.0
PEDESTRIAN_GREEN_S: Final = 15.0  # a walk phase plus clearance needs this much green
SATURATION_VEH_H: Final = 1800.0
# Approach of each detector: N, N, E, E, S, S, W, W; N and S are the first stage.
DETECTOR_STAGE: Final = np.array([0, 0, 1, 1, 0, 0, 1, 1])
# A controller's loop diagnostics flag a stuck or silent detector only after watching it a while.
DIAGNOSTIC_DELAY_NS: Final = 30 * 1_000_000_000


class TrafficSignalModel:
    def __init__(self, n_devices: int, traffic_level: np.ndarray, seed: int) -> None:
        rng = np.random.default_rng([seed & 0xFFFFFFFF, 3])
        self.seed = seed
        self.scale = rng.lognormal(0.0, 0.3, n_devices) * traffic_level
        self.ns_bias = rng.uniform(-0.25, 0.25, n_devices)
        self.offset_s = rng.uniform(0.0, 120.0, n_devices)
        self.gain = rng.uniform(0.8, 1.2, (n_devices, DETECTORS))
        self.free_speed = rng.uniform(40.0, 60.0, n_devices)

    def detector_flow(self, idx: np.ndarray, demand: float) -> np.ndarray:
        """Vehicles per hour over each loop of the junctions `idx` at a city demand level; a
        camera at the junction sees the same vehicles."""
        d = demand * self.scale[idx]
        d_ns = d * (1.0 + self.ns_bias[idx])
        d_ew = d * (1.0 - self.ns_bias[idx])
        return np.stack([d_ns, d_ew], axis=1)[:, DETECTOR_STAGE] * 700.0 * self.gain[idx]

    def generate(
        self,
        idx: np.ndarray,
        cond: Conditions,
        interval_s: np.ndarray,
        elapsed_s: float,
        rng: np.random.Generator,
    ) -> dict[str, np.ndarray]:
        n = len(idx)
        t_s = cond.t_ns / 1e9
        plan = np.minimum(cond.plan_demand * self.scale[idx], 1.2)
        cycle = np.clip(np.rint(50.0 + 70.0 * plan / 1.2), 50, 120)
        rel = t_s - self.offset_s[idx]
        cycle_no = np.floor(rel / cycle)
        pos = rel - cycle_no * cycle

        demand = cond.demand * self.scale[idx]
        d_ns = demand * (1.0 + self.ns_bias[idx])
        d_ew = demand * (1.0 - self.ns_bias[idx])
        keys = (idx, cycle_no.astype(np.int64))
        call_p = 0.03 + 0.3 * cond.demand
        calls = {a: hash_uniform(self.seed, *keys, k) < call_p for k, a in enumerate(APPROACHES)}
        jitter = 0.05 * (hash_uniform(self.seed, *keys, 9) - 0.5)
        share = np.clip(d_ns / np.maximum(d_ns + d_ew, 1e-9) + jitter, 0.3, 0.7)
        available = cycle - LOST_S
        min_ns = np.where(calls["N"] | calls["S"], PEDESTRIAN_GREEN_S, MIN_GREEN_S)
        min_ew = np.where(calls["E"] | calls["W"], PEDESTRIAN_GREEN_S, MIN_GREEN_S)
        green_ns = np.clip(np.rint(available * share), min_ns, available - min_ew)
        green_ew = available - green_ns

        ns = np.full(n, RED)
        ew = np.full(n, RED)
        ns[pos < green_ns] = GREEN
        ns[(pos >= green_ns) & (pos < green_ns + AMBER_S)] = AMBER
        ew_start = green_ns + AMBER_S + ALL_RED_S
        ew[(pos >= ew_start) & (pos < ew_start + green_ew)] = GREEN
        ew[(pos >= ew_start + green_ew) & (pos < ew_start + green_ew + AMBER_S)] = AMBER

        # Vehicles arrive at the stage's demand; loops at the stop line stay occupied by the
        # queue while their approach is red, so occupancy climbs with demand on red.
        flow = self.detector_flow(idx, cond.demand)
        counts = rng.poisson(flow * interval_s[:, None] / 3600.0)
        stage_red = np.stack([ns == RED, ew == RED], axis=1)[:, DETECTOR_STAGE]
        occupancy = np.clip(
            flow / SATURATION_VEH_H * 0.5
            + stage_red * np.minimum(flow / SATURATION_VEH_H, 1.0) * 0.4
            + rng.normal(0.0, 0.01, (n, DETECTORS)),
            0.0,
            1.0,
        )
        mean_occupancy = occupancy.mean(axis=1)
        speed = np.clip(
            self.free_speed[idx] * (1.0 - 0.7 * mean_occupancy) + rng.normal(0.0, 1.5, n), 3.0, 90.0
        )

        values: dict[str, np.ndarray] = {
            "intensity": counts.sum(axis=1),
            "occupancy": mean_occupancy,
            "averageVehicleSpeed": speed,
            "cycleLength": cycle,
            "conflictMonitor": np.zeros(n, dtype=bool),
        }
        stage_of = {
            "N": (ns, green_ns),
            "S": (ns, green_ns),
            "E": (ew, green_ew),
            "W": (ew, green_ew),
        }
        for a in APPROACHES:
            phase, green = stage_of[a]
            values[f"phase_{a}"] = PHASE_NAMES[phase]
            values[f"split_{a}"] = green.copy()
            values[f"pedestrianCall_{a}"] = calls[a]
        no_fault = np.full(n, "none", dtype=object)
        for k in range(DETECTORS):
            values[f"d{k + 1}_intensity"] = counts[:, k]
            values[f"d{k + 1}_occupancy"] = occupancy[:, k]
            values[f"d{k + 1}_fault"] = no_fault.copy()
        return values


def refresh_totals(values: dict[str, np.ndarray], pos: np.ndarray | int) -> None:
    """Recompute the junction totals from the detectors after a fault changed one of them."""
    values["intensity"][pos] = sum(values[f"d{k + 1}_intensity"][pos] for k in range(DETECTORS))
    values["occupancy"][pos] = (
        sum(values[f"d{k + 1}_occupancy"][pos] for k in range(DETECTORS)) / DETECTORS
    )


def _conflicting_greens(
    a: ActiveFault, v: Values, p: int, t: int, rng: np.random.Generator
) -> None:
    # The conflict monitor failed too (else it would force flashing): detectors must see it.
    for approach in APPROACHES:
        v[f"phase_{approach}"][p] = "green"


_PHASE_FIELDS: Final = (
    *(f"phase_{a}" for a in APPROACHES),
    *(f"split_{a}" for a in APPROACHES),
    "cycleLength",
)


def _stuck_phase(a: ActiveFault, v: Values, p: int, t: int, rng: np.random.Generator) -> None:
    if not a.state:
        a.state.update({name: v[name][p] for name in _PHASE_FIELDS})
    for name in _PHASE_FIELDS:
        v[name][p] = a.state[name]


def _detector(a: ActiveFault, v: Values, p: int, t: int, occupancy: float, code: str) -> None:
    k = (a.window.detector - 1) % DETECTORS + 1  # the window's part is one of PARTS
    v[f"d{k}_intensity"][p] = 0
    v[f"d{k}_occupancy"][p] = occupancy
    if t - a.window.start_ns >= DIAGNOSTIC_DELAY_NS:
        v[f"d{k}_fault"][p] = code
    refresh_totals(v, p)


def _detector_stuck_on(a: ActiveFault, v: Values, p: int, t: int, rng: np.random.Generator) -> None:
    _detector(a, v, p, t, 1.0, "stuck_on")


def _detector_no_activity(
    a: ActiveFault, v: Values, p: int, t: int, rng: np.random.Generator
) -> None:
    _detector(a, v, p, t, 0.0, "no_activity")


assert DETECTORS <= PARTS  # every loop can be the one a detector fault hits

# NAB realTraffic names its files by what they measure; occupancy there is in percent.
REPLAY_SERIES: Final = {"speed": ("averageVehicleSpeed", 1.0), "occupancy": ("occupancy", 0.01)}

FAMILY = SimFamily(
    "traffic_signal",
    abbreviation="ts",
    stream=11,
    model=lambda m: TrafficSignalModel(m.n_devices, m.traffic_level, m.seed),
    encoders={"traffic_line": traffic_line_frame},
    default_field="intensity",
    decimals={"occupancy": 3, **{f"d{k + 1}_occupancy": 3 for k in range(DETECTORS)}},
    faults={
        "conflicting_greens": FamilyFault(_conflicting_greens),
        "stuck_phase": FamilyFault(_stuck_phase),
        "detector_stuck_on": FamilyFault(_detector_stuck_on, part=True),
        "detector_no_activity": FamilyFault(_detector_no_activity, part=True),
    },
    replay_series=REPLAY_SERIES,
)
