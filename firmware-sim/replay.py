"""Replay mode: one device that plays a CSV time series (timestamp,value), such as the NAB
realTraffic files, as readings of one catalog field, sped up by a factor.
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from edge import mqtt_json
from edge.catalog import load_catalog
from edge.reading import Location, Reading
from firmware_sim.errors import SimError
from firmware_sim.families import families
from firmware_sim.mqtt_publisher import MqttPublisher


@dataclass(frozen=True)
class Point:
    ts_ns: int
    value: float


def read_series(path: Path) -> list[Point]:
    """The rows of a timestamp,value CSV; timestamps are ISO-like and taken as UTC."""
    points: list[Point] = []
    try:
        with path.open(newline="") as handle:
            for line_no, row in enumerate(csv.DictReader(handle), start=2):
                try:
                    moment = datetime.fromisoformat(row["timestamp"]).replace(tzinfo=UTC)
                    points.append(
                        Point(int(moment.timestamp()) * 1_000_000_000, float(row["value"]))
                    )
                except (KeyError, TypeError, ValueError) as exc:
                    raise SimError(
                        f"{path}:{line_no}: expected columns timestamp,value, got {row}"
                    ) from exc
    except OSError as exc:
        raise SimError(f"cannot read {path}: {exc.strerror}") from exc
    if not points:
        raise SimError(f"{path}: no rows")
    return points


def field_for(path: Path, field: str | None, sensor_type: str | None) -> tuple[str, str, float]:
    """The sensor type and catalog field a series feeds and the factor to its unit; what is not
    given is read off the file name by the families' replay series (firmware-sim/families/)."""
    guess = next(
        (
            (family.name, *series)
            for family in families().values()
            if sensor_type in (None, family.name)
            for word, series in family.replay_series.items()
            if word in path.stem.lower()
        ),
        None,
    )
    if sensor_type is None:
        if guess is None:
            raise SimError(f"cannot tell which sensor type {path.name} is from; pass --sensor-type")
        sensor_type = guess[0]
    if field:
        name, scale = field, 1.0
    elif guess is None:
        raise SimError(f"cannot tell which field {path.name} holds; pass --field")
    else:
        _, name, scale = guess
    spec = load_catalog().sensor(sensor_type).fields.get(name)
    if spec is None or spec.kind not in ("int", "float"):
        raise SimError(f"--field {name!r} is not a numeric field of {sensor_type}")
    return sensor_type, name, scale


def replay(
    publisher: MqttPublisher,
    points: list[Point],
    *,
    sensor_id: str,
    sensor_type: str,
    field: str,
    scale: float,
    location: Location,
    speed: float,
    qos: int,
    keep_timestamps: bool,
    limit: int | None = None,
) -> int:
    """Publish the series in order, pacing by its own spacing divided by `speed`; returns count."""
    kind = load_catalog().sensor(sensor_type).fields[field].kind
    start, first = time.monotonic(), points[0].ts_ns
    sent = 0
    for seq, point in enumerate(points[:limit] if limit else points):
        wait = start + (point.ts_ns - first) / 1e9 / speed - time.monotonic()
        if wait > 0:
            publisher.service(wait)
        value = point.value * scale
        reading = Reading(
            sensor_id=sensor_id,
            sensor_type=sensor_type,
            seq=seq,
            ts=point.ts_ns if keep_timestamps else time.time_ns(),
            fields={field: round(value) if kind == "int" else value},
            location=location,
        )
        topic, payload = mqtt_json.encode(reading)
        publisher.publish_many([(topic, payload, qos)])
        sent += 1
    publisher.drain(timeout=10.0)
    return sent
