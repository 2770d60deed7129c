"""The device simulator: a city's worth of devices speaking the MQTT contract.

Library use::

    fleet = Fleet.build(25, seed=7)
    sim = Simulator(fleet, start=start, interval_s=10, seed=7)
    for messages in sim.run(60): ...

The CLI is ``python -m devices.simulator`` (see :mod:`devices.simulator.cli`).
"""

from devices.simulator.engine import Message, Simulator
from devices.simulator.expectations import ExpectedAlert
from devices.simulator.faults import EXPECTED, FaultKind, FaultPlan
from devices.simulator.fleet import Device, Fleet
from devices.simulator.scenarios import SCENARIOS, Scenario

__all__ = [
    "EXPECTED",
    "SCENARIOS",
    "Device",
    "ExpectedAlert",
    "FaultKind",
    "FaultPlan",
    "Fleet",
    "Message",
    "Scenario",
    "Simulator",
]
