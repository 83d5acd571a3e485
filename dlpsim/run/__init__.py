"""Orchestration: what runs the simulator many times and gathers the results.

``compile`` searches a layer's mappings by simulating the best candidates;
``network`` compiles and simulates a network layer by layer; ``sweep`` simulates a
network once per configuration and ``explore`` many machines on several networks;
``points`` runs their points from the result cache (``cache``), here, in worker
processes or on a Dask cluster (``cluster``). Each returns frozen results with their
Stats and figures explicitly; none prints or draws (that is dlpsim.analysis).
"""

from collections.abc import Callable

# progress(index, total, what): called before item ``index`` (from 0) of ``total`` starts.
Progress = Callable[[int, int, str], None]
