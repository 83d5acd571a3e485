"""SCALE-Sim topology CSV files as networks, so users can bring the topologies they have.

The format, as SCALE-Sim (v2 and v3) reads it:

- the first line is a header and is skipped; blank lines are skipped;
- fields are separated by commas and every row ends with a comma: SCALE-Sim drops
  whatever follows the last comma (its bundled files put ``#dw`` notes there), so a
  row without the final comma would silently lose its last value there. Here that is
  an error unless the text after the last comma is empty or a ``#`` note;
- a convolution row is ``name, IfmapH, IfmapW, FilterH, FilterW, Channels, NumFilter,
  Stride`` (or ``StrideH, StrideW``), with the input already padded (no padding field);
- a GEMM row is ``name, M, N, K``: an M x K matrix times a K x N one. It loads as a
  fully connected layer on M rows of K features with N outputs (M x N x K MACs), which
  is what SCALE-Sim computes when it turns the row into a convolution (ifmap M x K,
  filter 1 x K, N filters).

SCALE-Sim sizes a convolution's output as ``ceil((I - F + S) / S)``, which equals the
usual ``floor((I - F) / S) + 1`` exactly when the stride divides ``I - F``; otherwise
it is one more: SCALE-Sim computes a last, partial window. Such a row loads with
``ceil_mode``, so shapes and MAC counts agree with SCALE-Sim's (the partial window
counts in full, as if zero-padded; SCALE-Sim's AlexNet file gives conv1 a 224 input and
gets 55). A row whose name contains ``DP`` is depthwise, as SCALE-Sim treats it: each
of the Channels channels gets its own NumFilter filters.

Layers in a topology file are independent (pooling between them is not listed), so
each reads its own input, named ``<layer>:input``, and neither convolutions nor GEMMs
get biases (SCALE-Sim models none). Rows are counted from 1 with the header as row 1,
as an editor numbers lines; every error names the file and the row.
"""

from __future__ import annotations

from pathlib import Path

from dlpsim.errors import TopologyError, WorkloadError
from dlpsim.workloads.layers import Conv2d, FullyConnected, Layer
from dlpsim.workloads.networks import Network, Node

CONV_COLUMNS = ("IfmapH", "IfmapW", "FilterH", "FilterW", "Channels", "NumFilter", "Stride")
CONV_COLUMNS_2D_STRIDE = (*CONV_COLUMNS[:-1], "StrideH", "StrideW")
GEMM_COLUMNS = ("M", "N", "K")


def _scalesim_output(size: int, kernel: int, stride: int) -> int:
    return -(-(size - kernel + stride) // stride)


def _fields(file: str, row: int, text: str) -> list[str]:
    if "," not in text:
        raise TopologyError(file, row, "expected comma-separated fields ending with a comma, e.g. "
                            "'conv1, 227, 227, 11, 11, 3, 96, 4,'")
    *fields, after = (part.strip() for part in text.split(","))
    if after and not after.startswith("#"):
        raise TopologyError(file, row, f"the row does not end with a comma: SCALE-Sim ignores the "
                            f"text after the last comma ({after!r}); add a comma after it")
    return fields


def _numbers(file: str, row: int, values: list[str], columns: tuple[str, ...]) -> list[int]:
    numbers = []
    for position, (value, column) in enumerate(zip(values, columns, strict=True), start=2):
        if not value.isdigit() or int(value) < 1:
            raise TopologyError(file, row, f"column {position} ({column}): expected a whole number "
                                f">= 1, found {value!r}")
        numbers.append(int(value))
    return numbers


def _conv(file: str, row: int, name: str, values: list[int]) -> Conv2d:
    height, width, filter_h, filter_w, channels, filters, *strides = values
    stride_h, stride_w = strides if len(strides) == 2 else strides * 2
    for axis, size, kernel in (("height", height, filter_h), ("width", width, filter_w)):
        if kernel > size:
            raise TopologyError(file, row, f"{name}: the filter {axis} {kernel} is larger than the "
                                f"input {axis} {size}")
    expected = (_scalesim_output(height, filter_h, stride_h), _scalesim_output(width, filter_w, stride_w))
    ceil_mode = (height - filter_h) % stride_h != 0 or (width - filter_w) % stride_w != 0
    depthwise = "DP" in name
    layer = Conv2d(name=name, input_shape=(channels, height, width),
                   out_channels=channels * filters if depthwise else filters,
                   kernel=(filter_h, filter_w), stride=(stride_h, stride_w),
                   groups=channels if depthwise else 1, bias=False, ceil_mode=ceil_mode)
    if layer.output_shape[1:] != expected:
        raise TopologyError(file, row, f"{name}: a stride larger than the filter leaves SCALE-Sim's "
                            "last window wholly outside the input; dlpsim does not model that")
    return layer


def parse_topology(text: str, file: str = "<topology>", name: str | None = None) -> Network:
    """A network from the text of a SCALE-Sim topology CSV; ``file`` names it in errors."""
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise TopologyError(file, 1, "expected a header line first (SCALE-Sim skips the first line)")
    values = [part.strip() for part in lines[0].split(",")[1:] if part.strip()]
    if values and all(value.isdigit() for value in values):
        raise TopologyError(file, 1, "expected a header line, found a layer row (SCALE-Sim skips "
                            "the first line, so this layer would be lost)")
    nodes: list[Node] = []
    inputs = []
    seen: set[str] = set()
    for row, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = _fields(file, row, line)
        layer_name, values = fields[0], fields[1:]
        for position, value in enumerate(values, start=2):
            if ":" in value:  # SCALE-Sim v3's N:M sparsity column
                raise TopologyError(file, row, f"column {position}: {value!r} is a sparsity ratio; "
                                    "sparsity is not modelled, remove that column")
        if not layer_name:
            raise TopologyError(file, row, "the layer name (column 1) is empty")
        columns = {len(GEMM_COLUMNS): GEMM_COLUMNS, len(CONV_COLUMNS): CONV_COLUMNS,
                   len(CONV_COLUMNS_2D_STRIDE): CONV_COLUMNS_2D_STRIDE}.get(len(values))
        if columns is None:
            raise TopologyError(file, row, f"expected {len(CONV_COLUMNS)} values after the name for a "
                                f"convolution ({', '.join(CONV_COLUMNS)}) or {len(GEMM_COLUMNS)} for a "
                                f"GEMM ({', '.join(GEMM_COLUMNS)}), found {len(values)}")
        numbers = _numbers(file, row, values, columns)
        if layer_name in seen:  # SCALE-Sim allows repeats; a network needs unique names
            layer_name = f"{layer_name}@{row}"
        seen.add(layer_name)
        try:
            layer: Layer
            if columns is GEMM_COLUMNS:
                m, n, k = numbers
                layer = FullyConnected(name=layer_name, input_shape=(m, k), out_features=n, bias=False)
            else:
                layer = _conv(file, row, layer_name, numbers)
        except TopologyError:
            raise
        except WorkloadError as error:
            raise TopologyError(file, row, error.message) from None
        input_name = f"{layer_name}:input"
        inputs.append((input_name, layer.input_shapes[0]))
        nodes.append(Node(layer, (input_name,)))
    if not nodes:
        raise TopologyError(file, 0, "no layer rows after the header")
    network_name = name or Path(file).stem
    rows = len(nodes)
    return Network(network_name, f"SCALE-Sim topology {file} ({rows} layer{'s' * (rows != 1)})",
                   tuple(inputs), tuple(nodes))


def load_topology(path: str | Path, name: str | None = None) -> Network:
    """A network from a SCALE-Sim topology CSV file."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise TopologyError(file, 0, f"cannot read the topology file: {error.strerror}") from None
    except UnicodeDecodeError:
        raise TopologyError(file, 0, "not a text file (expected UTF-8 CSV)") from None
    return parse_topology(text, file, name)
