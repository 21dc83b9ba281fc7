"""The scenarios shipped with the simulator, found by file path or by name ("city", "faults.yaml")."""

from __future__ import annotations

from pathlib import Path

from firmware_sim.errors import ScenarioError

SCENARIOS = Path(__file__).parent / "scenarios"


def scenario_path(value: str) -> Path:
    """A scenario file, or the shipped scenario of that name."""
    path = Path(value)
    if path.exists():
        return path
    shipped = SCENARIOS / (value if value.endswith(".yaml") else f"{value}.yaml")
    if shipped.exists():
        return shipped
    names = ", ".join(sorted(p.stem for p in SCENARIOS.glob("*.yaml")))
    raise ScenarioError(f"{value!r} is neither a file nor a shipped scenario ({names})", path=value)
