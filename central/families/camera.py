"""The camera family's rules: the tamper and stream state a camera reports, frame rate low,
frozen frame, and the cross-device check of its motor-vehicle counts against the loop counts of
the signal controller at its junction (`count_disagreement`; the controller's rules feed the
loops' side, central/families/traffic_signal.py).

Each rule is a small class with per-camera state, fed one reading at a time, returning
`Finding`s; time comes from reading timestamps. Field names follow the catalog
(edge/sensors/camera.yaml): "intensity_<class>" per vehicle class, "tamper", "frameRate".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from central.alerts import Finding
from central.families import CentralFamily, RuleSetting
from central.rules import number
from edge.reading import FieldValue, Reading

_NS = 1_000_000_000
# Motor vehicles run over the loops and trip them; bicycles mostly do not, so the cross check
# leaves them out.
MOTOR_CLASSES = ("car", "bus", "motorcycle")
# What the analytics read off the picture; a frozen frame repeats all of it.
_SCENE_PREFIXES = ("intensity_",)
_SCENE_FIELDS = ("peopleCount", "occupancy", "averageCrowdSpeed")
_SIDES = {"camera": 0, "controller": 2}  # where each device's evidence starts in the CUSUMs


def motor_vehicles(fields: Mapping[str, FieldValue]) -> float | None:
    """The camera's motor vehicle count of one interval, or None if it reports no class."""
    counts = [number(fields.get(f"intensity_{c}")) for c in MOTOR_CLASSES]
    present = [c for c in counts if c is not None]
    return sum(present) if present else None


def reported_health(fields: Mapping[str, FieldValue]) -> list[Finding]:
    """What the unit says about itself: a tamper state, or a video stream it lost.

    Low light is not reported: it is the night, not a fault, and the dashboard shows it.
    """
    found = []
    tamper = fields.get("tamper")
    if isinstance(tamper, str) and tamper != "none":
        found.append(
            Finding(
                f"camera_tamper:{tamper}",
                "warning",
                None,
                f"the camera reports tamper state {tamper!r}: its counts cannot be trusted",
            )
        )
    if fields.get("online") is False:
        found.append(
            Finding(
                "camera_offline",
                "warning",
                None,
                "the camera reports its video stream lost: it counts nothing",
            )
        )
    return found


@dataclass
class FrameRate:
    """A frame rate below `share` of the camera's usual one for `window` readings in a row.

    The usual rate is a running mean of the healthy readings, trusted after `learn` of them; a
    unit that processes fewer frames misses what crosses between them.
    """

    share: float = 0.6
    window: int = 3
    learn: int = 20
    alpha: float = 0.02
    _usual: float = math.nan
    _seen: int = 0
    _low: int = 0

    def check(self, fields: Mapping[str, FieldValue]) -> list[Finding]:
        fps = number(fields.get("frameRate"))
        if fps is None:
            return []
        usual = self._usual
        if self._seen >= self.learn and fps < self.share * usual:
            self._low += 1
            if self._low >= self.window:
                return [
                    Finding(
                        "frame_rate_low",
                        "warning",
                        fps,
                        f"frameRate={fps:g} fps, under {self.share:.0%} of its usual {usual:.1f}",
                    )
                ]
            return []
        self._low = 0
        self._usual = fps if math.isnan(usual) else usual + self.alpha * (fps - usual)
        self._seen += 1
        return []


@dataclass
class FrozenFrame:
    """Every figure the analytics read off the picture unchanged for `min_run` readings.

    Counts of a live scene and a crowd speed with its own noise repeat together only by rare
    chance; an empty scene (every figure zero) legitimately repeats all night and is not judged.
    """

    min_run: int = 6
    _last: tuple[float, ...] | None = None
    _run: int = 0

    def check(self, fields: Mapping[str, FieldValue]) -> list[Finding]:
        scene = tuple(
            v
            for name, raw in sorted(fields.items())
            if (name.startswith(_SCENE_PREFIXES) or name in _SCENE_FIELDS)
            and (v := number(raw)) is not None
        )
        if not scene:
            return []
        self._run = self._run + 1 if scene == self._last else 1
        self._last = scene
        if self._run >= self.min_run and any(scene):
            return [
                Finding(
                    "frozen_frame",
                    "warning",
                    float(self._run),
                    f"every count and the crowd speed repeated exactly for {self._run} "
                    "readings: the camera is analysing one frozen picture",
                )
            ]
        return []


@dataclass
class _Rate:
    """A count rate over exponentially fading time (`tau_s`): counts and exposure both fade."""

    tau_s: float
    count: float = 0.0
    exposure: float = 0.0
    at: int | None = None

    def add(self, ts: int, count: float, span_s: float) -> None:
        if self.at is not None and ts > self.at:
            fade = math.exp(-(ts - self.at) / _NS / self.tau_s)
            self.count *= fade
            self.exposure *= fade
        if self.at is None or ts > self.at:
            self.at = ts
        self.count += count
        self.exposure += span_s

    @property
    def per_s(self) -> float:
        return self.count / self.exposure if self.exposure > 0 else math.nan


@dataclass
class CountCrossCheck:
    """A camera's motor vehicle counts against the loop counts of the controller beside it.

    Both see the same vehicles, so the camera's count over an interval is Poisson around
    `ratio` × the loops' recent rate × the interval, with `ratio` learned (loops and cameras
    count a little differently), and the loops' count likewise around the camera's recent rate
    / `ratio`. Per side, two one-sided Poisson CUSUMs test for that side counting `low`× or
    `high`× what the other implies; any of the four passing `threshold` is a disagreement. Each
    side is judged against the other's recent rate, so the one that failed is caught at once,
    not only once its own failure has dragged the other's reference down. Which device is the
    suspect is the one whose own rate departed further from its long-run rate (an obscured
    lens drops the camera's, a dead loop card the controller's); traffic changes move both.

    Counts are paired only while both devices report: a camera count is judged only when the
    loops reported within `stale_s`, and the loop rate takes only counts made while the camera
    reported, so one device's silence is not evidence against the other. A disagreement lasts
    until the evidence falls below 3/4 of the threshold, and then starts again from nothing, so
    the noise of a recovery does not raise it again.
    """

    low: float = 0.4
    high: float = 2.5
    threshold: float = 16.0
    learn_counts: float = 60.0  # vehicles both must have counted before the ratio is trusted
    # The loops' recent rate is the reference each camera count is judged by: long enough that
    # its own Poisson noise is small, short against the hours a rush hour takes to build.
    short_s: float = 300.0
    long_s: float = 1800.0
    stale_s: float = 30.0
    camera_short: _Rate = field(init=False)
    camera_long: _Rate = field(init=False)
    loops_short: _Rate = field(init=False)
    loops_long: _Rate = field(init=False)
    _camera_at: int | None = None
    _loops_at: int | None = None
    # Evidence per (side, direction): camera low, camera high, loops low, loops high.
    _cusums: list[float] = field(default_factory=lambda: [0.0] * 4)
    suspect: str = ""  # "camera", "controller" or "" while they agree
    expected_s: float = 0.0  # the camera's expected rate when the check last judged, per s

    def __post_init__(self) -> None:
        self.camera_short = _Rate(self.short_s)
        self.camera_long = _Rate(self.long_s)
        self.loops_short = _Rate(self.short_s)
        self.loops_long = _Rate(self.long_s)

    def _fresh(self, other_at: int | None, ts: int) -> bool:
        return other_at is not None and abs(ts - other_at) <= self.stale_s * _NS

    @staticmethod
    def _span_s(previous: int | None, ts: int, interval_s: float) -> float:
        """The time one count covers: the gap to the device's previous reading, except after a
        silence, when the count is still that of one interval."""
        if previous is None or ts <= previous:
            return interval_s
        return min((ts - previous) / _NS, 1.5 * interval_s)

    def loops(self, ts: int, count: float, interval_s: float) -> None:
        """The controller's junction count of one interval (`interval_s`: how often it reports)."""
        span = self._span_s(self._loops_at, ts, interval_s)
        self._loops_at = ts if self._loops_at is None else max(ts, self._loops_at)
        if not self._fresh(self._camera_at, ts):
            return
        self.loops_short.add(ts, count, span)
        if self._trusted:
            ratio = self.loops_long.per_s / self.camera_long.per_s
            expected = ratio * self.camera_short.per_s * span
            if math.isfinite(expected):
                self._judge(2, count, max(expected, 1e-3))
        if self._learning:
            self.loops_long.add(ts, count, span)

    def camera(self, ts: int, count: float, interval_s: float) -> None:
        """The camera's motor vehicle count of one interval; updates the verdict."""
        span = self._span_s(self._camera_at, ts, interval_s)
        self._camera_at = ts if self._camera_at is None else max(ts, self._camera_at)
        if not self._fresh(self._loops_at, ts):
            return
        self.camera_short.add(ts, count, span)
        if self._trusted:
            ratio = self.camera_long.per_s / self.loops_long.per_s
            expected = ratio * self.loops_short.per_s * span
            if math.isfinite(expected):
                self.expected_s = expected / span
                self._judge(0, count, max(expected, 1e-3))
        if self._learning:
            self.camera_long.add(ts, count, span)

    @property
    def _trusted(self) -> bool:
        return (
            self.camera_long.count >= self.learn_counts
            and self.loops_long.count >= self.learn_counts
        )

    @property
    def _learning(self) -> bool:
        """The long run is what the devices do when they agree: counts that already lean
        towards a disagreement would teach the ratio the fault under test."""
        return max(self._cusums) < self.threshold / 4

    def _judge(self, side: int, count: float, expected: float) -> None:
        """Add one count of a side (0: camera, 2: loops) against what the other implies."""
        suspect = _SIDES.get(self.suspect)
        if suspect is not None and side != suspect:
            return  # judged against the suspect's counts, the healthy side proves nothing
        # Bounded evidence: once the devices agree again the alert clears within a minute or
        # two, not after as long as the fault lasted.
        cap = 1.1 * self.threshold
        cusums = self._cusums
        for at, g in ((side, self.low), (side + 1, self.high)):
            step = count * math.log(g) - expected * (g - 1.0)
            cusums[at] = min(max(0.0, cusums[at] + step), cap)
        if suspect is not None:
            if max(cusums[side : side + 2]) < 0.75 * self.threshold:
                self._recovered()
        elif max(cusums) >= self.threshold:
            self.suspect = (
                "camera"
                if self._departure(self.camera_short, self.camera_long)
                >= self._departure(self.loops_short, self.loops_long)
                else "controller"
            )

    def _recovered(self) -> None:
        """The suspect counts as the other implies again: start afresh, and take its recent
        rate to be its long-run one, since its faulty counts say nothing of the traffic now and
        would make the healthy side look wrong for minutes."""
        short, long = (
            (self.camera_short, self.camera_long)
            if self.suspect == "camera"
            else (self.loops_short, self.loops_long)
        )
        short.count = long.per_s * short.exposure
        self.suspect = ""
        self._cusums[:] = [0.0] * 4

    @staticmethod
    def _departure(short: _Rate, long: _Rate) -> float:
        """How far a device's recent rate left its long-run one (log ratio, counts +1)."""
        recent = (short.count + 1.0) / max(short.exposure, 1.0)
        usual = (long.count + 1.0) / max(long.exposure, 1.0)
        return abs(math.log(recent / usual))

    def finding(self, about: str, partner: str) -> Finding | None:
        """The disagreement as seen from one side ("camera" or "controller"), if that side is
        the suspect; `partner` names the other device."""
        if self.suspect != about:
            return None
        camera, expected = self.camera_short.per_s * 60, self.expected_s * 60
        if about == "camera":
            return Finding(
                "count_disagreement",
                "warning",
                camera,
                f"camera counts {camera:.1f} motor vehicles/min where the loops of {partner} "
                f"imply {expected:.1f}/min: the camera is the suspect",
            )
        loops = self.loops_short.per_s * 60
        return Finding(
            "count_disagreement",
            "warning",
            loops,
            f"the loops count {loops:.1f} vehicles/min while camera {partner} beside them counts "
            f"{camera:.1f}/min as usual: the controller's loops are the suspect",
        )


@dataclass
class Junctions:
    """Which camera stands at which signal controller: the nearest one of its district within
    `radius_m`, found from the positions the readings carry (no configuration to keep)."""

    radius_m: float = 50.0
    _controllers: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)
    _version: dict[str, int] = field(default_factory=dict)  # per district, bumped on changes
    _pairs: dict[str, tuple[str, CountCrossCheck]] = field(default_factory=dict)  # by camera
    _tried: dict[str, tuple[str, int]] = field(default_factory=dict)  # unpaired: district, version
    _by_controller: dict[str, dict[str, CountCrossCheck]] = field(default_factory=dict)

    def place(self, controller: str, district: str, lat: float, lon: float) -> None:
        known = self._controllers.setdefault(district, {})
        if known.get(controller) != (lat, lon):
            known[controller] = (lat, lon)
            self._version[district] = self._version.get(district, 0) + 1

    def pair(
        self, camera: str, district: str, lat: float, lon: float
    ) -> tuple[str, CountCrossCheck] | None:
        """The camera's controller and their check, pairing it on first sight of a neighbour."""
        found = self._pairs.get(camera)
        if found is not None:
            return found
        version = self._version.get(district, 0)
        if self._tried.get(camera) == (district, version):
            return None  # nothing new in the district since the last look
        self._tried[camera] = (district, version)
        scale = math.cos(math.radians(lat))
        best, best_m = "", self.radius_m
        for controller, (c_lat, c_lon) in self._controllers.get(district, {}).items():
            metres = 111_320.0 * math.hypot(c_lat - lat, (c_lon - lon) * scale)
            if metres <= best_m:
                best, best_m = controller, metres
        if not best:
            return None
        check = CountCrossCheck()
        self._pairs[camera] = (best, check)
        self._by_controller.setdefault(best, {})[camera] = check
        del self._tried[camera]
        return best, check

    def cameras_at(self, controller: str) -> Mapping[str, CountCrossCheck]:
        return self._by_controller.get(controller, {})

    def forget(self, sensor_id: str) -> None:
        """Drop a device's pairing (it moved to another consumer, or away)."""
        self._tried.pop(sensor_id, None)
        paired = self._pairs.pop(sensor_id, None)
        if paired is not None:
            self._by_controller.get(paired[0], {}).pop(sensor_id, None)
        for district, known in self._controllers.items():
            if known.pop(sensor_id, None) is not None:
                self._version[district] = self._version.get(district, 0) + 1
        for camera in self._by_controller.pop(sensor_id, {}):
            self._pairs.pop(camera, None)


@dataclass
class CameraRules:
    """The per-camera state of the camera rules (the cross check lives in `Junctions`)."""

    junctions: Junctions
    frame_rate: FrameRate = field(default_factory=FrameRate)
    frozen: FrozenFrame = field(default_factory=FrozenFrame)

    def check(self, r: Reading, interval_s: float) -> list[Finding]:
        fields = r.fields
        found = [
            *reported_health(fields),
            *self.frame_rate.check(fields),
            *self.frozen.check(fields),
        ]
        loc, count = r.location, motor_vehicles(fields)
        if loc is None or loc.latitude is None or loc.longitude is None or count is None:
            return found
        paired = self.junctions.pair(r.sensor_id, loc.district, loc.latitude, loc.longitude)
        if paired is None:
            return found
        controller, check = paired
        check.camera(r.ts, count, interval_s)
        verdict = check.finding("camera", controller)
        if verdict is not None:
            found.append(verdict)
        return found


def _rules(sensor_id: str, setting: RuleSetting) -> CameraRules:
    return CameraRules(setting.shared(Junctions))


FAMILY = CentralFamily(
    "camera",
    rules=_rules,
    # Counts per vehicle class are sparse (a bus an hour: every bus is "novel"); they are judged
    # against the junction's loops instead.
    own_fields="intensity_.*",
    steady_fields="occupancy",  # an empty zone at night
    # The cross check is built first for a lens that stops seeing, the frame-rate rule for a
    # frame-rate collapse, and a reported tamper state for a moved camera.
    alert_faults={
        "count_disagreement": "lens_obscured",
        "frame_rate_low": "frame_rate_collapse",
        "camera_tamper": "camera_moved",
    },
)
