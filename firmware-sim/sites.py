"""The sites file of a scenario (edge.sites GeoJSON): its districts and where each device stands,
so a dashboard can draw the simulated city without loading the simulator."""

from __future__ import annotations

from typing import Any

from edge.sites import District, Site, to_geojson
from firmware_sim.fleet import Fleet
from firmware_sim.scenario import Scenario


def scenario_sites(scenario: Scenario) -> dict[str, Any]:
    fleet = Fleet(scenario)
    tick_s = scenario.clock.tick_ms / 1000
    districts = {
        d.name: District(d.name, d.latitude, d.longitude, d.radius_m) for d in scenario.districts
    }
    sites = [
        Site(
            dev.sensor_id,
            dev.sensor_type,
            dev.district,
            dev.location.latitude or districts[dev.district].latitude,
            dev.location.longitude or districts[dev.district].longitude,
            dev.interval_ticks * tick_s,
        )
        for dev in fleet.devices
    ]
    return to_geojson(list(districts.values()), sites)
