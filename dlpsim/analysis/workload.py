"""What `dlpsim net summary` and `dlpsim net --list` print: a network's layers, and the networks."""

from __future__ import annotations

from dlpsim.analysis.tables import align
from dlpsim.workloads.layers import FP32_BYTES, VECTOR_OPERATIONS, format_shape
from dlpsim.workloads.networks import Network

# Column title -> right-aligned (numbers) or not.
COLUMNS = {"layer": False, "type": False, "input": True, "output": True, "params": True, "MACs": True}


def format_network_summary(network: Network, bytes_per_element: int = FP32_BYTES) -> str:
    if len(network.inputs) <= 3:
        inputs = ", ".join(f"{name} {format_shape(shape)}" for name, shape in network.inputs)
    else:
        (first, first_shape), (last, last_shape) = network.inputs[0], network.inputs[-1]
        inputs = (f"{len(network.inputs)} ({first} {format_shape(first_shape)}, ..., {last} "
                  f"{format_shape(last_shape)})")
    rows = [tuple(COLUMNS)]
    for node in network.nodes:
        layer = node.layer
        inputs_read = ", ".join(format_shape(shape) for shape in layer.input_shapes)
        rows.append((node.name, layer.describe(), inputs_read, format_shape(layer.output_shape),
                     f"{layer.params:,}", f"{network.batch * layer.macs:,}"))
    rows.append(("total", "", "", "", f"{network.params:,}", f"{network.macs:,}"))
    ops = network.vector_ops
    batch = (f"batch {network.batch}: shapes are per sample; MACs, neurons and vector ops for the batch, "
             "the parameters read once for all")
    lines = [
        f"{network.name}: {network.description}",
        f"inputs: {inputs}; shapes are CxHxW, features, or rows x features",
        *([batch] if network.batch > 1 else []),
        "",
        *align(rows, list(COLUMNS.values())),
        "",
        f"layers      {len(network.nodes)}",
        f"params      {network.params:,} (weights {network.weights:,}, biases {network.biases:,})",
        f"MACs        {network.macs:,}",
        f"neurons     {network.neurons:,} (inputs {network.input_neurons:,} + conv, fc, pool, "
        "lstm and matmul outputs)",
        f"weights     {network.weight_bytes(bytes_per_element):,} bytes at {bytes_per_element} bytes "
        "per parameter",
        "vector ops  " + "  ".join(f"{op} {ops[op]:,}" for op in VECTOR_OPERATIONS),
    ]
    return "\n".join(lines) + "\n"


def format_network_list(entries) -> str:
    width = max(len(entry.name) for entry in entries)
    return "".join(f"{entry.name:{width}}  {entry.description}\n" for entry in entries)
