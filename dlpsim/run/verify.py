"""Verifying compiled layers: each layer's program executed on seeded random data (functional
execution) and its DRAM output compared with the numpy reference (dlpsim.workloads.reference).

For every layer the compiler writes a program for, ``verify_layer`` draws the layer's inputs and
parameters, float32 uniform in [-1, 1), from a seed and the layer's place in the network; the
packers (dlpsim.compiler.packing) place them in DRAM where the program's header says; the program
runs on numpy memories (dlpsim.data.functional), hazard-free and in happens-before order; the
packers read the output tiles back; the reference computes the layer in float64.

The tolerance. The program computes in float32 (unit roundoff u = 2^-24). An output element made
of K terms (a convolution's IC/groups x KH x KW products and its bias: K = that + 1; a fully
connected layer's in_features + 1; a matrix product's reduction; an average pool's window; batch
norm's product and shift, and a position embedding's sum, 2; an add's inputs; an LSTM cell's
gates, input + hidden + 1; an activation, a max or a copy, 1) summed in float32 in any order is within
gamma_K x S of the exact value, gamma_K = K u / (1 - K u), where S is the sum of the terms'
absolute values (Higham, "Accuracy and Stability of Numerical Algorithms", 3.1), and storing it
rounds once more, by u |value|. So an element passes when

    |got - expected| <= K x eps x S + 4 x eps x |expected|,      eps = 2^-23 (float32's epsilon)

which is that bound with about a factor of two to spare (eps = 2u, so K eps = 2 K u, about
twice gamma_K while K u is small and above it for every K < 2^23), plus a few units in the last
place for the function types (tanh, sigmoid, gelu in float32). S is the reference evaluated on
the absolute values of the inputs and parameters for the layers that are sums of products
(convolution, fully connected, matrix product, average pooling, batch norm, add, position
embedding); for an activation or a max it is |input| or |expected|, and an LSTM cell's is
derived in _magnitude. A wrong address or layout gives errors of the order of S itself,
millions of times this tolerance.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dlpsim.asm.program import Program
from dlpsim.compiler import CompiledLayer
from dlpsim.compiler.packing import pack, packable, unpack
from dlpsim.data.functional import FunctionalProgram, Memories
from dlpsim.errors import UserError
from dlpsim.machine import MachineConfig
from dlpsim.run import Progress
from dlpsim.run.compile import compile_layer
from dlpsim.sim.engine import DEFAULT_MAX_CYCLES
from dlpsim.workloads import Network
from dlpsim.workloads.layers import (
    Activation,
    Add,
    BatchNorm,
    Conv2d,
    Embedding,
    FullyConnected,
    Layer,
    LayerNorm,
    LSTMCell,
    MatMul,
    Pool,
    PositionEmbedding,
    Softmax,
)
from dlpsim.workloads.reference import evaluate, input_shapes, parameter_shapes

EPSILON = float(np.finfo(np.float32).eps)  # 2^-23
FUNCTION_ULPS = 4  # the units in the last place allowed for rounding the result and the functions


@dataclass(frozen=True)
class Mismatch:
    """The first element (in C order, sample by sample) outside its tolerance."""

    sample: int
    index: tuple[int, ...]
    got: float
    expected: float
    tolerance: float

    def describe(self, layer: str, batch: int) -> str:
        where = ", ".join(str(each) for each in self.index)
        sample = f"sample {self.sample}, " if batch > 1 else ""
        return (f"{layer}: output[{sample}{where}] is {self.got!r}, expected {self.expected!r} "
                f"(error {abs(self.got - self.expected):.3g}, tolerance {self.tolerance:.3g})")


@dataclass(frozen=True)
class LayerCheck:
    """One layer's verification: its output's largest errors and the first mismatch, if any.
    ``executed`` is False for a layer with nothing to execute (a view, a concatenation)."""

    name: str
    kind: str
    executed: bool
    elements: int = 0
    terms: int = 0  # K: the terms each output element sums (see the module doc)
    max_abs_error: float = 0.0
    max_rel_error: float = 0.0  # |error| / S, relative to the magnitude of the element's terms
    worst_of_tolerance: float = 0.0  # the largest |error| / tolerance (1 or less passes)
    mismatch: Mismatch | None = None
    instructions: int = 0

    @property
    def passed(self) -> bool:
        return self.mismatch is None


@dataclass(frozen=True)
class NetworkCheck:
    network: str
    machine: str
    batch: int
    seed: int
    layers: tuple[LayerCheck, ...]

    @property
    def passed(self) -> bool:
        return all(layer.passed for layer in self.layers)

    @property
    def first_mismatch(self) -> tuple[LayerCheck, Mismatch] | None:
        for layer in self.layers:
            if layer.mismatch is not None:
                return layer, layer.mismatch
        return None


def unverifiable(layer: Layer, batch: int = 1) -> str | None:
    """Why the compiler cannot yet emit the layer executably (None: it can, or it has nothing to
    execute)."""
    from dlpsim.compiler import lower

    problem = lower(layer, batch)
    if problem is None:
        return None
    if problem.steps is None or not packable(layer):
        return (f"{layer.label}: {layer.describe()} ({type(layer).__name__}) has no executable form in the "
                "compiler yet (its vector work is counted, not computed)")
    return None


def refuse_unverifiable(network: Network) -> None:
    """Refuse, before any work, a network with a layer that cannot be verified, naming each."""
    reasons = [reason for layer in network.layers if (reason := unverifiable(layer, network.batch))]
    if reasons:
        listed = "\n".join(f"  {reason}" for reason in reasons)
        plural = "s" if len(reasons) != 1 else ""
        raise UserError(f"{network.name}: error: {len(reasons)} layer{plural} cannot be verified, so none "
                        f"is:\n{listed}")


def _terms(layer: Layer) -> int:
    """K of the module doc: the terms each output element sums."""
    if isinstance(layer, Conv2d):
        return layer.in_channels // layer.groups * layer.kernel[0] * layer.kernel[1] + int(layer.bias)
    if isinstance(layer, FullyConnected):
        return layer.in_features + int(layer.bias)
    if isinstance(layer, MatMul):
        return layer.reduction
    if isinstance(layer, LSTMCell):
        return layer.input_size + layer.hidden_size + 1
    if isinstance(layer, Pool):
        return layer.kernel[0] * layer.kernel[1] if layer.mode == "avg" else 1
    if isinstance(layer, BatchNorm | PositionEmbedding):  # x * scale + shift; x + a table row
        return 2
    if isinstance(layer, Add):
        return len(layer.input_shapes)
    if isinstance(layer, Softmax | LayerNorm):  # row sums of L terms and a few roundings around them
        return row_terms(layer)
    return 1


def row_terms(layer: Softmax | LayerNorm) -> int:
    """K of row work (see the module doc): a softmax's L exponentials summed, then the division
    and the roundings of its argument (x - max, the scale), each relative to the output; a layer
    norm's mean and variance, each a sum of L terms times 1 / L, whose errors reach the output
    through x - mean and 1 / sqrt (half the variance's), and the four roundings after them."""
    return (layer.length if isinstance(layer, Softmax) else layer.features) + 4


def _magnitude(layer: Layer, inputs: tuple[np.ndarray, ...], parameters: dict[str, np.ndarray],
               expected: np.ndarray) -> np.ndarray:
    """S of the module doc, element by element. An LSTM cell's h and c: with S_u the largest S of
    unit u's four gates (each a sum of K terms), a gate's error e <= K eps S_u passes through
    sigmoid (slope <= 1/4) and tanh (slope <= 1); c = f c_prev + i g and h = o tanh(c), with i, f,
    o, g and tanh(c) at most 1 in size, are then within (1.5 + |c_prev| / 4) e and
    (2 + |c_prev| / 4) e, so (S_u + 1) (2 + |c_prev|) stands for S (the 1 for the functions'
    own rounding)."""
    if isinstance(layer, LSTMCell):
        x, h, c = (np.abs(each).astype(np.float64) for each in inputs)
        gates = np.abs(parameters["weight"]) @ np.concatenate([x, h]) + np.abs(parameters["bias"])
        unit = gates.reshape(4, layer.hidden_size).max(axis=0)
        return np.broadcast_to((unit + 1) * (2 + c), (2, layer.hidden_size))
    if isinstance(layer, Activation):
        return np.abs(inputs[0]).astype(np.float64)
    if isinstance(layer, Pool) and layer.mode == "max" or isinstance(layer, Softmax):
        return np.abs(expected)  # a softmax's terms are all positive: S is the output itself
    if isinstance(layer, LayerNorm):  # (|x - mean| + mean |x|) / sigma x |scale| + |shift|
        x = inputs[0].astype(np.float64)
        mean = x.mean(axis=-1, keepdims=True)
        sigma = np.sqrt(((x - mean) ** 2).mean(axis=-1, keepdims=True) + layer.epsilon)
        spread = np.abs(x - mean) + np.abs(x).mean(axis=-1, keepdims=True)
        return spread / sigma * np.abs(parameters["scale"]) + np.abs(parameters["shift"])
    return evaluate(layer, tuple(np.abs(each) for each in inputs),
                    {name: np.abs(value) for name, value in parameters.items()})


def random_data(layer: Layer, seed: int, position: int, batch: int
                ) -> tuple[list[tuple[np.ndarray, ...]], dict[str, np.ndarray]]:
    """Each sample's inputs and the layer's parameters, float32 uniform in [-1, 1) (an embedding's
    ids: whole numbers below its vocabulary), drawn from (seed, the layer's position in the
    network): the same for the same three."""
    generator = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, position])))

    def draw(shape) -> np.ndarray:
        return generator.random(shape, dtype=np.float32) * np.float32(2) - np.float32(1)

    if isinstance(layer, Embedding):  # token ids, whole numbers below the vocabulary
        samples = [(generator.integers(0, layer.vocabulary, layer.input_shape).astype(np.float32),)
                   for _ in range(batch)]
    else:
        samples = [tuple(draw(shape) for shape in input_shapes(layer)) for _ in range(batch)]
    parameters = {name: draw(shape) for name, shape in parameter_shapes(layer).items()}
    return samples, parameters


def compiled_batch(compiled: CompiledLayer) -> int:
    """The samples a compiled layer computes (a matrix product's problem has its samples' products
    as groups, and a batch of 1: see lowering)."""
    problem = compiled.mapping.problem
    if isinstance(compiled.layer, MatMul):
        return problem.groups * problem.in_height // (compiled.layer.batch * compiled.layer.rows)
    if isinstance(compiled.layer, Embedding):
        return problem.groups // compiled.layer.tokens
    return problem.batch


def verify_layer(compiled: CompiledLayer, seed: int = 0, position: int = 0,
                 program: Program | None = None) -> LayerCheck:
    """Execute the compiled layer (or ``program``, a changed copy of its program that keeps its
    layout) on random data and compare its output with the reference (see the module doc)."""
    layer, machine = compiled.layer, compiled.machine
    if compiled.mapping is None:
        return LayerCheck(layer.label, layer.kind, False)
    problem = compiled.mapping.problem
    tensors = compiled.body.tensors
    if not tensors.addressable:
        raise UserError(f"{layer.label}: error: its mapping keeps the whole input and tiles its columns, "
                        "so a tile's MAC cannot address its input span (the window form has no row pitch): "
                        "not verifiable; compile it for time (the default objective)")
    batch = compiled_batch(compiled)
    samples, parameters = random_data(layer, seed, position, batch)
    accepted = FunctionalProgram.prepare(compiled.program if program is None else program, machine)
    memories = Memories(machine)
    for offset, values in pack(layer, problem, tensors, samples, parameters):
        memories.dram.write(offset, values)
    executed = accepted.execute(memories)
    outputs = unpack(layer, problem, tensors, memories.dram.read, batch)
    terms = _terms(layer)
    largest = {"abs": 0.0, "rel": 0.0, "ratio": 0.0}
    mismatch = None
    elements = 0
    for sample, (inputs, got) in enumerate(zip(samples, outputs, strict=True)):
        expected = np.asarray(evaluate(layer, inputs, parameters), dtype=np.float64)  # (h, c): (2, hidden)
        magnitude = _magnitude(layer, inputs, parameters, expected)
        error = np.abs(got.astype(np.float64) - expected)
        tolerance = terms * EPSILON * magnitude + FUNCTION_ULPS * EPSILON * np.abs(expected)
        elements += error.size
        bad = ~(error <= tolerance)  # a NaN is bad too
        largest["abs"] = max(largest["abs"], float(np.nanmax(error, initial=0.0)))
        with np.errstate(divide="ignore", invalid="ignore"):
            relative = np.where(magnitude > 0, error / magnitude, np.where(error > 0, np.inf, 0.0))
            ratio = np.where(tolerance > 0, error / tolerance, np.where(error > 0, np.inf, 0.0))
        largest["rel"] = max(largest["rel"], float(np.nanmax(relative, initial=0.0)))
        largest["ratio"] = max(largest["ratio"], float(np.nanmax(ratio, initial=0.0)))
        if mismatch is None and bad.any():
            index = np.unravel_index(int(np.flatnonzero(bad)[0]), bad.shape)
            mismatch = Mismatch(sample, tuple(int(each) for each in index), float(got[index]),
                                float(expected[index]), float(tolerance[index]))
    return LayerCheck(layer.label, layer.kind, True, elements, terms, largest["abs"], largest["rel"],
                      largest["ratio"], mismatch, executed)


def verify_network(network: Network, machine: MachineConfig, seed: int = 0,
                   progress: Progress | None = None, max_cycles: int | None = DEFAULT_MAX_CYCLES,
                   stop_at_first: bool = False,
                   compiled_layer: Callable[[Layer], CompiledLayer] | None = None) -> NetworkCheck:
    """Compile (as `dlpsim compile` does) and verify every layer; refused up front if a layer has no
    executable form. ``stop_at_first``: stop after the first layer that fails."""
    refuse_unverifiable(network)
    checks = []
    layers = network.layers
    for position, layer in enumerate(layers):
        if progress is not None:
            progress(position, len(layers), layer.label)
        compiled = (compile_layer(layer, machine, network.batch, max_cycles=max_cycles).compiled
                    if compiled_layer is None else compiled_layer(layer))
        check = verify_layer(compiled, seed, position)
        checks.append(check)
        if stop_at_first and not check.passed:
            break
    return NetworkCheck(network.name, machine.name, network.batch, seed, tuple(checks))
