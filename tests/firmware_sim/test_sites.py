"""`citygate sim sites` writes a file the dashboard places every device of the scenario from."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from central.dashboard.sites import SiteRegistry
from firmware_sim.fleet import Fleet
from firmware_sim.scenario import load_scenario
from firmware_sim.shipped import scenario_path


def test_the_dashboard_places_every_device_where_the_scenario_puts_it(tmp_path: Path) -> None:
    out = tmp_path / "sites.geojson"
    citygate = str(Path(sys.executable).with_name("citygate"))
    subprocess.run(
        [citygate, "sim", "sites", "--scenario", "city", "--out", str(out)], check=True, timeout=60
    )
    registry = SiteRegistry.from_file(out)
    scenario = load_scenario(scenario_path("city"))
    devices = Fleet(scenario).devices
    assert set(registry.sites) == {d.sensor_id for d in devices}
    assert set(registry.districts) == {d.name for d in scenario.districts}
    for dev in devices:
        site = registry.sites[dev.sensor_id]
        assert (site.sensor_type, site.district) == (dev.sensor_type, dev.district)
        if dev.location.latitude:
            assert site.latitude == dev.location.latitude
