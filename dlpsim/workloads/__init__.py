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
def get_network(name: str) -> Network:
    """A built-in network by name (networks are immutable, so each is built once)."""
    if name not in NETWORKS:
        raise WorkloadError(f"unknown network {name!r} (known: {', '.join(NETWORKS)})")
    return NETWORKS[name].build()


def load_network(name_or_path: str, input_shapes: Mapping[str, tuple[int, ...]] | None = None) -> Network:
    """A built-in network, an ONNX model (a path to a .onnx file; ``input_shapes`` fixes the
    dims of its named inputs) or a SCALE-Sim topology (any other file, such as a .csv)."""
    is_onnx = name_or_path.lower().endswith(".onnx") and name_or_path not in NETWORKS
    if input_shapes and not is_onnx:
        raise WorkloadError(f"--input-shape applies to .onnx models, not to {name_or_path!r}")
    if is_onnx:
        from dlpsim.workloads.onnx_import import load_onnx

        return load_onnx(name_or_path, input_shapes)
    if name_or_path in NETWORKS:
        return get_network(name_or_path)
    if name_or_path.lower().endswith(".csv") or Path(name_or_path).is_file():
        from dlpsim.workloads.topology import load_topology

        return load_topology(name_or_path)
    raise WorkloadError(f"unknown network {name_or_path!r} (known: {', '.join(NETWORKS)}; "
                        "or give the path of an ONNX model .onnx or a SCALE-Sim topology .csv file)")


__all__ = [
    "ACTIVATION_COSTS", "FP32_BYTES", "NETWORKS", "VECTOR_OPERATIONS", "Activation", "Add",
    "BatchNorm", "ClassToken", "Concat", "Conv2d", "Embedding", "FullyConnected", "LSTMCell", "Layer",
    "LayerNorm", "MatMul", "Network", "NetworkBuilder", "Node", "Pool", "PositionEmbedding",
    "ReceptiveField", "Reshape", "Shape", "Slice", "Softmax", "Transpose", "Window", "get_network",
    "load_network", "network_names", "receptive_fields",
]
