"""The results layer: values every part of dlpsim reports, and the files they are saved in.

``bound`` is the contract's roofline bound (one definition for a run, a layer, a network);
``kinds`` names the queues, the control unit's causes and the objectives a mapping is chosen
by; ``files`` writes exact numbers to JSON and CSV and reads versioned results files back.
Nothing here simulates or draws: the simulator, the compiler, the orchestration and the
analyzers all build on it.
"""

from dlpsim.results.bound import OPS_PER_MAC, Bound, BoundKind
from dlpsim.results.kinds import ControlCause, Objective, QueueKind

__all__ = ["OPS_PER_MAC", "Bound", "BoundKind", "ControlCause", "Objective", "QueueKind"]
