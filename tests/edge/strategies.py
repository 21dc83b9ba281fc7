"""Hypothesis strategies shared by the edge tests: valid readings from the catalog, streams,
and hostile inputs (tests/edge/hostile.py) for the fuzz tests."""

from __future__ import annotations

import random
import string
from collections.abc import Callable

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from edge.catalog import FieldSpec, SensorType, load_catalog
from edge.reading import FieldValue, Location, Reading

# Two shared cores: enough examples to find framing bugs, few enough to stay fast.
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Drawing a whole Reading costs hypothesis ~8 ms, so tests built on them take fewer examples.
READING_SETTINGS = settings(SETTINGS, max_examples=100)
CATALOG = load_catalog()

_ALNUM = string.ascii_letters + string.digits
names = st.tuples(st.sampled_from(_ALNUM), st.text(_ALNUM + "._:-", max_size=20)).map("".join)


def value_for(spec: FieldSpec) -> st.SearchStrategy[FieldValue]:
    """Values valid for one catalog field."""
    if spec.kind == "bool":
        return st.booleans()
    if spec.kind == "str":
        assert spec.allowed is not None
        return st.sampled_from(spec.allowed)
    low = -1e6 if spec.min is None else spec.min
    high = 1e6 if spec.max is None else spec.max
    if spec.kind == "int":
        return st.integers(int(low), int(high))
    return st.floats(low, high, allow_nan=False, allow_infinity=False)


def fields_for(
    sensor: SensorType, max_fields: int | None = None
) -> st.SearchStrategy[dict[str, FieldValue]]:
    """A non-empty subset of a sensor type's fields (at most `max_fields`) with valid values."""
    optional = {spec.name: value_for(spec) for spec in sensor.fields.values()}
    return (
        st.fixed_dictionaries({}, optional=optional)
        .map(lambda fields: dict(list(fields.items())[:max_fields]))
        .filter(bool)
    )


@st.composite
def readings(
    draw: st.DrawFn,
    sensor_type: str | None = None,
    located: bool = True,
    max_fields: int | None = None,
) -> Reading:
    """A device-side Reading (ms-aligned ts, no gateway fields) of a catalog type."""
    name = sensor_type or draw(st.sampled_from(sorted(CATALOG.types)))
    location = None
    if located:
        location = Location(
            draw(names),
            draw(st.none() | st.floats(-90, 90)),
            draw(st.none() | st.floats(-180, 180)),
        )
    return Reading(
        sensor_id=draw(names),
        sensor_type=name,
        seq=draw(st.integers(0, 2**63 - 1)),
        ts=draw(st.integers(0, 2**42)) * 1_000_000,
        fields=draw(fields_for(CATALOG.sensor(name), max_fields)),
        location=location,
    )


def split_points(data: bytes) -> st.SearchStrategy[list[bytes]]:
    """`data` cut into consecutive chunks at arbitrary points."""
    return st.lists(st.integers(0, len(data)), max_size=12).map(
        lambda cuts: [
            data[a:b] for a, b in zip([0, *sorted(cuts)], [*sorted(cuts), len(data)], strict=True)
        ]
    )


def hostile(make: Callable[[random.Random], bytes]) -> st.SearchStrategy[bytes]:
    """Inputs from one of the tests.edge.hostile generators, from a Random that hypothesis seeds
    (so a failure replays from its seed). Not hypothesis's own draws: it biases choices towards
    the first option and the smallest numbers, and the hostile ones are the rare, large ones."""
    return st.randoms(use_true_random=True).map(make)
