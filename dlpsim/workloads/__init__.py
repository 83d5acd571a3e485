"""Workloads: layers with exact arithmetic, the built-in networks, and SCALE-Sim topologies.

The workload is kept apart from the machine and from the mapping (the compiler's
business): a network says what is computed, on which shapes, never how.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path

from dlpsim.errors import WorkloadError
from dlpsim.workloads.layers import (
    ACTIVATION_COSTS,
    FP32_BYTES,
    VECTOR_OPERATIONS,
    Activation,
    Add,
    BatchNorm,
    ClassToken,
    Concat,
    Conv2d,
    Embedding,
    FullyConnected,
    Layer,
    LayerNorm,
    LSTMCell,
    MatMul,
    Pool,
    PositionEmbedding,
    ReceptiveField,
    Reshape,
    Shape,
    Slice,
    Softmax,
    Transpose,
    Window,
    receptive_fields,
)
from dlpsim.workloads.networks import NETWORKS, Network, NetworkBuilder, Node


def network_names() -> list[str]:
    return list(NETWORKS)


@functools.cache
def _built(name: str, seq: int | None) -> Network:
    entry = NETWORKS[name]
    return entry.build() if seq is None else entry.build(seq=seq)


def get_network(name: str, *, seq: int | None = None, batch: int = 1) -> Network:
    """A built-in network by name (networks are immutable, so each is built once), on ``seq``
    tokens (a transformer's sequence length; None: its default) and ``batch`` samples."""
    if name not in NETWORKS:
        raise WorkloadError(f"unknown network {name!r} (known: {', '.join(NETWORKS)})")
    entry = NETWORKS[name]
    if seq is not None:
        takers = ", ".join(each.name for each in NETWORKS.values() if each.takes_seq)
        if not entry.takes_seq:
            raise WorkloadError(f"--seq {seq}: {name} takes no sequence length (only {takers} do)")
        if not 1 <= seq <= entry.max_seq:
            raise WorkloadError(f"--seq {seq}: {name} takes 1 to {entry.max_seq} tokens (the rows of its "
                                "position table)")
    return batched(_built(name, seq), batch)


def batched(network: Network, batch: int) -> Network:
    """``network`` on ``batch`` samples (checked: a whole number from 1 to MAX_BATCH)."""
    if not isinstance(batch, int) or isinstance(batch, bool) or not 1 <= batch <= MAX_BATCH:
        raise WorkloadError(f"--batch {batch}: the batch must be a whole number from 1 to {MAX_BATCH}")
    return network if batch == 1 else network.with_batch(batch)


# A bound on the work one command can ask for: every layer's program repeats its tiles per sample
# (ResNet-50 at batch 64 takes about two minutes and 240 MB to compile and simulate on dlp-s).
MAX_BATCH = 256


def load_network(name_or_path: str, input_shapes: Mapping[str, tuple[int, ...]] | None = None, *,
                 seq: int | None = None, batch: int = 1) -> Network:
    """A built-in network, an ONNX model (a path to a .onnx file; ``input_shapes`` fixes the
    dims of its named inputs) or a SCALE-Sim topology (any other file, such as a .csv), on
    ``seq`` tokens (a built-in transformer's) and ``batch`` samples."""
    is_onnx = name_or_path.lower().endswith(".onnx") and name_or_path not in NETWORKS
    if input_shapes and not is_onnx:
        raise WorkloadError(f"--input-shape applies to .onnx models, not to {name_or_path!r}")
    if seq is not None and name_or_path not in NETWORKS:
        raise WorkloadError(f"--seq {seq}: a model or topology file takes no sequence length (its "
                            "shapes say it)", name_or_path)
    if is_onnx:
        from dlpsim.workloads.onnx_import import at_batch, load_onnx

        return at_batch(load_onnx(name_or_path, input_shapes), batch, name_or_path)
    if name_or_path in NETWORKS:
        return get_network(name_or_path, seq=seq, batch=batch)
    if name_or_path.lower().endswith(".csv") or Path(name_or_path).is_file():
        from dlpsim.workloads.topology import load_topology

        return batched(load_topology(name_or_path), batch)
    raise WorkloadError(f"unknown network {name_or_path!r} (known: {', '.join(NETWORKS)}; "
                        "or give the path of an ONNX model .onnx or a SCALE-Sim topology .csv file)")


__all__ = [
    "ACTIVATION_COSTS", "FP32_BYTES", "NETWORKS", "VECTOR_OPERATIONS", "Activation", "Add",
    "BatchNorm", "ClassToken", "Concat", "Conv2d", "Embedding", "FullyConnected", "LSTMCell", "Layer",
    "LayerNorm", "MatMul", "Network", "NetworkBuilder", "Node", "Pool", "PositionEmbedding",
    "ReceptiveField", "Reshape", "Shape", "Slice", "Softmax", "Transpose", "Window", "batched",
    "get_network", "load_network", "network_names", "receptive_fields",
]
