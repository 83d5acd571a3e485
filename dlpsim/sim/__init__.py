"""The SimPy model of the machine: one module per hardware block.

``simulate(program, machine)`` runs a program and returns its :class:`Stats`.
"""

from dlpsim.sim.engine import simulate
from dlpsim.sim.stats import Stats
from dlpsim.sim.trace import Recorder, write_chrome_trace

__all__ = ["Recorder", "Stats", "simulate", "write_chrome_trace"]
