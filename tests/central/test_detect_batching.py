"""Detection does not depend on batching: one simulated stream, cut anywhere, gives one alert stream.

The detect consumer hands `Detector.process_batch` whatever one Kafka poll returned, so the
batch boundaries are an accident of timing. A simulated fleet with faults (stuck sensor, drift
against the district, spike, PM2.5 above PM10, out of range, conflicting greens, dropout,
duplicates, out-of-order delivery) is fed one reading at a time, and again cut at boundaries
hypothesis chooses; the alert transitions must be the same, field for field and in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from central.detect import Detector
from citygate.sim_eval import FIXED_START, _decode
from edge.messages import Alert
from edge.reading import Reading
from firmware_sim.scenario import parse_scenario
from firmware_sim.simulator import Simulator

# Enough monitors in one district for its consensus to judge (3 others), faults after the
# district rule has learned (120 readings).
_SCENARIO = {
    "name": "batching",
    "seed": 5,
    "clock": {"start": FIXED_START, "tick_ms": 1000},
    "transport": {"kind": "mqtt", "qos": 1},
    "districts": [
        {
            "name": "lab",
            "latitude": 51.5,
            "longitude": -0.12,
            "devices": {
                "air_quality": {"count": 8, "interval_s": 1},
                "traffic_signal": {"count": 3, "interval_s": 1},
            },
        }
    ],
    "faults": [
        {"type": "duplicate", "sensor": "lab-aq-00006", "start": "100s", "duration": "20s"},
        {"type": "out_of_order", "sensor": "lab-aq-00007", "start": "100s", "duration": "20s"},
        {
            "type": "conflicting_greens",
            "sensor": "lab-ts-00001",
            "start": "120s",
            "duration": "20s",
        },
        {"type": "stuck", "sensor": "lab-aq-00001", "start": "150s", "duration": "40s"},
        {
            "type": "drift",
            "sensor": "lab-aq-00002",
            "start": "150s",
            "duration": "150s",
            "magnitude": 20,
        },
        {"type": "pm25_above_pm10", "sensor": "lab-aq-00004", "start": "160s", "duration": "20s"},
        {"type": "dropout", "sensor": "lab-aq-00005", "start": "170s", "duration": "30s"},
        {"type": "spike", "sensor": "lab-aq-00003", "start": "200s", "duration": "3s"},
        {
            "type": "out_of_range",
            "sensor": "lab-aq-00008",
            "start": "220s",
            "duration": "10s",
            "field": "temperature",
        },
    ],
}
_TICKS = 360


@cache
def _stream() -> tuple[Reading, ...]:
    sim = Simulator(parse_scenario(_SCENARIO))
    serial_seq: dict[int, int] = {}
    out: list[Reading] = []
    for tick in range(_TICKS):
        step = sim.step(tick)
        out.extend(_decode(sim, step.mqtt, step.serial, step.t_ns, serial_seq))
    return tuple(out)


def _alerts(cuts: Sequence[int]) -> list[Alert]:
    """The alert transitions of the stream fed in batches that end at `cuts`."""
    readings = _stream()
    detector = Detector()
    out: list[Alert] = []
    start = 0
    for end in [*sorted(set(cuts)), len(readings)]:
        out += detector.process_batch(readings[start:end])
        start = end
    return out


@cache
def _one_at_a_time() -> tuple[Alert, ...]:
    return tuple(_alerts(range(1, len(_stream()))))


def test_the_stream_raises_alerts_of_every_kind_it_is_built_for() -> None:
    kinds = {a.type.split(":")[0] for a in _one_at_a_time()}
    assert {
        "conflicting_greens",
        "flatline",
        "district_disagreement",
        "pm25_above_pm10",
        "out_of_range",
    } <= kinds
    assert {a.state for a in _one_at_a_time()} == {"raised", "cleared"}


@pytest.mark.parametrize("size", [7, 10_000])
def test_fixed_batch_sizes_give_the_alerts_of_one_reading_at_a_time(size: int) -> None:
    assert _alerts(range(size, len(_stream()), size)) == list(_one_at_a_time())


@settings(
    max_examples=25,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.lists(st.integers(min_value=1, max_value=4000), max_size=60))
@example([])
def test_any_batch_boundaries_give_the_alerts_of_one_reading_at_a_time(cuts: list[int]) -> None:
    assert _alerts(cuts) == list(_one_at_a_time())
