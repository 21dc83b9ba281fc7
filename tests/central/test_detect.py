"""The Detector facade over catalog sensor types: rules, anomalies, silence, duplicates, drop."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest

from central.detect import Detector, DetectorConfig
from central.families import families
from edge.catalog import Catalog, load_catalog
from edge.reading import FieldValue, Location, Reading

S = 1_000_000_000


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def _aq(seq: int, **fields: float) -> Reading:
    base = {"pm1": 5.0, "pm25": 10.0, "pm10": 20.0, "temperature": 15.0}
    rng = np.random.default_rng(seq)
    noisy = {k: float(v + rng.normal(0, 0.5)) for k, v in base.items()}
    return Reading(
        sensor_id="aq-1",
        sensor_type="air_quality",
        seq=seq,
        ts=seq * 60 * S,
        fields={**noisy, **fields},
        location=Location("north"),
    )


def test_clean_stream_raises_nothing_and_faults_raise(catalog: Catalog) -> None:
    det = Detector(catalog)
    assert [a for seq in range(300) for a in det.process(_aq(seq))] == []
    raised = det.process(_aq(300, pm25=80.0, pm10=20.0))
    assert {"pm25_above_pm10", "anomaly:pm25"} <= {a.type for a in raised}
    assert all(a.state == "raised" and a.district == "north" for a in raised)
    assert det.process(_aq(300, pm25=80.0, pm10=20.0)) == []  # duplicate (sensor, seq)


def test_duplicate_seq_is_skipped_per_sensor(catalog: Catalog) -> None:
    det = Detector(catalog)
    first = _aq(5, pm25=80.0)
    assert [a.type for a in det.process(first)] == ["pm25_above_pm10"]
    assert det.process(first) == []
    assert det.process_batch([first, msgspec.structs.replace(first, sensor_id="aq-2")]) != []


def test_seen_window_is_bounded(catalog: Catalog) -> None:
    det = Detector(catalog, DetectorConfig(seen_seqs=3))
    for seq in range(5):
        det.process(_aq(seq))
    [dup, old] = [_aq(4, pm25=80.0), _aq(0, pm25=80.0)]
    assert det.process(dup) == []
    # Forgotten: only the recent seqs are remembered, so seq 0 is judged again.
    assert [a.type for a in det.process(old)] == ["pm25_above_pm10"]


def test_conflicting_greens_from_a_traffic_reading(catalog: Catalog) -> None:
    det = Detector(catalog)
    fields: dict[str, FieldValue] = {
        "phase_N": "green",
        "phase_S": "green",
        "phase_E": "green",
        "phase_W": "red",
    }
    reading = Reading(sensor_id="tl-1", sensor_type="traffic_signal", seq=1, ts=S, fields=fields)
    [alert] = det.process(reading)
    assert (alert.type, alert.severity) == ("conflicting_greens", "critical")


def test_silence_then_recovery_and_drop(catalog: Catalog) -> None:
    det = Detector(catalog)
    det.process(_aq(1))
    assert det.check_silence(2 * 60 * S) == []
    [silent] = det.check_silence(20 * 60 * S)
    assert silent.type == "silence"
    assert det.check_silence(21 * 60 * S) == []  # already open
    back = det.process(_aq(21))
    assert [(a.type, a.state) for a in back] == [("silence", "cleared")]
    det.drop("aq-1")
    assert det.sensors == 0
    assert det.process(_aq(21)) == []  # rebuilt from scratch, seq history forgotten too


def _fleet(rounds: int, sensors: int) -> list[Reading]:
    rng = np.random.default_rng(7)
    out = []
    for seq in range(rounds):
        for k in range(sensors):
            pm = float(rng.gamma(4.0, 4.0))
            # no2 is live (noisy) for 40 rounds, then frozen: a flatline.
            no2 = 20.0 if seq >= 40 else round(20.0 + float(rng.normal(0, 1)), 1)
            fields: dict[str, FieldValue] = {"pm25": pm, "pm10": pm * 1.6, "no2": no2}
            if seq == rounds - 5 and k == 0:
                fields.update(pm25=300.0, pm10=100.0, no2=-5.0)  # range, pm and district faults
            out.append(
                Reading(
                    sensor_id=f"aq-{k}",
                    sensor_type="air_quality",
                    seq=seq,
                    ts=seq * 60 * S + k,
                    fields=fields,
                    location=Location("north"),
                )
            )
    return out


def test_batches_raise_what_single_readings_raise(catalog: Catalog) -> None:
    readings = _fleet(60, 6)
    one = Detector(catalog)
    single = [(a.alert_id, a.state) for r in readings for a in one.process(r)]
    batch = Detector(catalog)
    batched = [
        (a.alert_id, a.state)
        for i in range(0, len(readings), 6)
        for a in batch.process_batch(readings[i : i + 6])
    ]
    assert sorted(batched) == sorted(single)
    assert {t.split(":")[1] for t, _ in single} >= {"flatline", "out_of_range", "pm25_above_pm10"}


def test_a_sensor_twice_in_one_batch_is_judged_in_order(catalog: Catalog) -> None:
    readings = _fleet(60, 3)
    one = Detector(catalog)
    single = [(a.alert_id, a.state) for r in readings for a in one.process(r)]
    together = [(a.alert_id, a.state) for a in Detector(catalog).process_batch(readings)]
    assert together == single


def test_drop_frees_slots_for_reuse(catalog: Catalog) -> None:
    det = Detector(catalog)
    det.process(_aq(1))
    det.drop("aq-1")
    det.process(_aq(2))
    assert det.sensors == 1 and det.bank.count[: len(catalog.get("air_quality").fields)].max() == 1


def test_field_matrix_fast_path_matches_field_by_field(catalog: Catalog) -> None:
    from central.detect import _Schema

    stype = catalog.get("air_quality")
    assert stype is not None
    specs = stype.fields
    names = tuple(n for n, s in specs.items() if s.kind in ("float", "int"))
    schema = _Schema.build(names, specs, families()["air_quality"])
    same = [{"pm25": 1.0, "pm10": 2}, {"pm25": 3.5, "pm10": 4.0}]
    mixed = [*same, {"pm10": 5.0}, {"pm25": True, "pm10": "6"}, {"pm25": 7.0, "other": 1.0}]
    for batch in (same, mixed):
        got = schema.matrix(batch)
        want = np.array(
            [
                [
                    float(v) if isinstance(v, int | float) and not isinstance(v, bool) else np.nan
                    for v in (f.get(n, np.nan) for n in names)
                ]
                for f in batch
            ]
        )
        np.testing.assert_array_equal(got, want)


def test_city_detector_runs_without_the_context_novelty() -> None:
    # Its evidence stops just over NAB's alarm, far under anomaly_threshold: in the city it
    # could only start refractory periods that hide real faults.
    config = DetectorConfig()
    assert config.univariate.context_lags == 0
    assert config.univariate.alarm < config.anomaly_threshold
