"""The shared rhythms of a city, as pure functions of local time: traffic demand with rush hours
through the day and week, air temperature and humidity, and daylight for ozone chemistry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from firmware_sim.scenario import Weather


@dataclass(frozen=True)
class LocalTime:
    hour: float  # 0..24, fractional
    weekday: int  # Monday = 0
    day_of_year: int


def local_time(t_ns: int, zone: ZoneInfo) -> LocalTime:
    moment = datetime.fromtimestamp(t_ns / 1e9, zone)
    hour = moment.hour + moment.minute / 60 + moment.second / 3600
    return LocalTime(hour, moment.weekday(), moment.timetuple().tm_yday)


def _bump(hour: float, centre: float, width: float) -> float:
    return math.exp(-0.5 * ((hour - centre) / width) ** 2)


def traffic_demand(lt: LocalTime) -> float:
    """Traffic demand in [0, 1]: 1 is the busiest weekday rush hour of a typical street."""
    h = lt.hour
    if lt.weekday < 5:
        morning = _bump(h, 8.0, 0.9)
        evening = (0.95 if lt.weekday < 4 else 1.0) * _bump(h, 17.75, 1.3)
        midday = 0.55 * _bump(h, 13.0, 3.0)
        return 0.06 + 0.94 * max(morning, evening, midday)
    # Weekends: no commute, a broad shopping peak after midday, Sunday quieter.
    peak = 0.7 if lt.weekday == 5 else 0.5
    return 0.06 + peak * _bump(h, 13.5, 3.5) + 0.1 * _bump(h, 22.0, 1.5)


def daylight(lt: LocalTime) -> float:
    """Sun strength in [0, 1]; ozone forms in sunlight from NO2."""
    return max(0.0, math.sin(math.pi * (lt.hour - 6.5) / 13.0))


def temperature(lt: LocalTime, weather: Weather) -> float:
    """Air temperature in °C: coldest before dawn, warmest mid-afternoon, seasonal swing."""
    season = -6.0 * math.cos(2 * math.pi * (lt.day_of_year - 15) / 365.25)
    daily = weather.temperature_amplitude_c * math.cos(2 * math.pi * (lt.hour - 15.0) / 24.0)
    return weather.temperature_mean_c + season + daily


def relative_humidity(temp_c: float, weather: Weather) -> float:
    """Relative humidity as a fraction: it falls as the air warms through the day."""
    rh = weather.humidity_mean - 0.025 * (temp_c - weather.temperature_mean_c)
    return min(0.98, max(0.08, rh))
