"""What every device in the city shares at one instant: local time, traffic demand and weather."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from firmware_sim import profiles
from firmware_sim.scenario import Weather

# Signal timing plans change every quarter hour, as time-of-day plans do in real controllers.
PLAN_PERIOD_S = 900


@dataclass(frozen=True)
class Conditions:
    t_ns: int
    demand: float  # traffic demand now, 0..1
    plan_demand: float  # traffic demand at the start of the current timing-plan period
    temperature_c: float
    humidity: float  # fraction
    daylight: float  # 0..1


def conditions_at(t_ns: int, zone: ZoneInfo, weather: Weather) -> Conditions:
    now = profiles.local_time(t_ns, zone)
    plan_start = (t_ns // 1_000_000_000 // PLAN_PERIOD_S) * PLAN_PERIOD_S * 1_000_000_000
    temp = profiles.temperature(now, weather)
    return Conditions(
        t_ns=t_ns,
        demand=profiles.traffic_demand(now),
        plan_demand=profiles.traffic_demand(profiles.local_time(plan_start, zone)),
        temperature_c=temp,
        humidity=profiles.relative_humidity(temp, weather),
        daylight=profiles.daylight(now),
    )
