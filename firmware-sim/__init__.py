"""The fleet simulator behind `citygate sim`: virtual air-quality monitors and traffic-signal
controllers over MQTT and pty serial lines, scenarios, labelled faults, load and replay modes.

The public API is small: load a scenario, build a `Simulator`, and drive it with a transport.
"""

from firmware_sim.errors import ScenarioError, SimError, TransportError
from firmware_sim.scenario import Scenario, load_scenario
from firmware_sim.simulator import Batch, Simulator

__all__ = [
    "Batch",
    "Scenario",
    "ScenarioError",
    "SimError",
    "Simulator",
    "TransportError",
    "load_scenario",
]
