"""The sites file: GeoJSON written from districts and sites reads back to the same places."""

from __future__ import annotations

import math

import pytest

from edge.errors import SitesError
from edge.sites import District, Site, from_geojson, to_geojson

DISTRICTS = [District("centro", 40.4168, -3.7038, 1200.0), District("norte", 40.48, -3.69, 800.0)]
SITES = [
    Site("aq-1", "air_quality", "centro", 40.417, -3.704, 60.0),
    Site("tl-9", "traffic_signal", "norte", 40.481, -3.689, 5.0),
]


def test_a_sites_file_reads_back_to_the_same_districts_and_sites() -> None:
    doc = to_geojson(DISTRICTS, SITES)
    assert doc["type"] == "FeatureCollection"
    districts, sites = from_geojson(doc)
    assert sites == SITES
    for got, want in zip(districts, DISTRICTS, strict=True):
        assert got.name == want.name
        assert math.isclose(got.latitude, want.latitude, abs_tol=1e-6)
        assert math.isclose(got.longitude, want.longitude, abs_tol=1e-6)
        assert math.isclose(got.radius_m, want.radius_m, rel_tol=1e-3)


def test_points_are_longitude_first_as_geojson_orders_them() -> None:
    point = to_geojson([], SITES[:1])["features"][0]["geometry"]
    assert point == {"type": "Point", "coordinates": [-3.704, 40.417]}


@pytest.mark.parametrize(
    "doc",
    [
        [],
        {"type": "Feature"},
        {"type": "FeatureCollection", "features": [{"properties": {"kind": "sensor"}}]},
        {
            "type": "FeatureCollection",
            "features": [{"properties": {"kind": "tree"}, "geometry": {}}],
        },
        {
            "type": "FeatureCollection",
            "features": [
                {"properties": {"kind": "district", "name": "x"}, "geometry": {"coordinates": [[]]}}
            ],
        },
    ],
)
def test_anything_else_is_a_sites_error_naming_the_feature(doc: object) -> None:
    with pytest.raises(SitesError):
        from_geojson(doc)
