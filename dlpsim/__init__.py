"""dlpsim: a cycle-accurate simulator of the textbook deep learning processor.

Data flows one way: program text -> :class:`dlpsim.asm.Program` ->
:func:`dlpsim.sim.simulate` -> :class:`dlpsim.sim.Stats` -> reports.
"""

__version__ = "0.1.0"
