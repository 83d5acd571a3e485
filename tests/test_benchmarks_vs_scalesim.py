"""benchmarks/vs_scalesim.py without SCALE-Sim: its message, its layers as GEMMs, dlpsim's side."""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
from benchmark_scripts import benchmark_module

from dlpsim.sim.compute import systolic_cycles
from dlpsim.workloads import get_network
from dlpsim.workloads.networks import TEXTBOOK_FC

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "vs_scalesim.py"


@pytest.fixture(scope="module")
def vs():
    with benchmark_module("vs_scalesim") as module:
        yield module


def by_layer(workloads):
    return {w.layer: w for w in workloads}


def test_without_scalesim_it_says_how_to_install_it_and_exits_0():
    if importlib.util.find_spec("scalesim") is not None:
        pytest.skip("SCALE-Sim is installed here, so the script would run the whole comparison")
    result = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    out = result.stdout
    assert "SCALE-Sim is not importable" in out and "nothing was compared" in out
    assert "pip install scalesim==3.0.0 'numpy<2'" in out
    # what it would compare: 5 AlexNet + 13 VGG-16 convolutions + 5 exercise GEMMs
    assert "23 layers (alexnet, vgg16, textbook-fc)" in out
    assert "16x16 array with the os, ws, is dataflows" in out


def test_alexnet_convolutions_as_gemms(vs):
    layers = by_layer(vs.network_workloads(get_network("alexnet")))
    assert list(layers) == ["conv1", "conv2", "conv3", "conv4", "conv5"]  # no FC layers by default
    conv1 = layers["conv1"]  # 224x224x3 padded by 2, 11x11 stride 4, 96 filters -> 55x55x96
    assert (conv1.m, conv1.k, conv1.n, conv1.groups) == (55 * 55, 11 * 11 * 3, 96, 1)
    # SCALE-Sim's row: the 227x227 the windows cover, so that ceil((227 - 11 + 4) / 4) = 55
    assert conv1.conv == (227, 227, 11, 11, 3, 96, 4, 4)
    conv2 = layers["conv2"]  # 27x27x96, 5x5 padded by 2, 256 filters in 2 groups of 48 -> 128
    assert (conv2.m, conv2.k, conv2.n, conv2.groups) == (27 * 27, 5 * 5 * 48, 128, 2)
    assert conv2.conv == (31, 31, 5, 5, 48, 128, 1, 1)
    assert conv2.shape == "2 x 729x1200x128"
    conv3 = layers["conv3"]  # 13x13x256, 3x3, 384 filters, not grouped
    assert (conv3.m, conv3.k, conv3.n, conv3.groups) == (13 * 13, 3 * 3 * 256, 384, 1)


def test_vgg16_convolutions_as_gemms(vs):
    workloads = vs.network_workloads(get_network("vgg16"))
    assert len(workloads) == 13
    layers = by_layer(workloads)
    assert (layers["conv1_1"].m, layers["conv1_1"].k, layers["conv1_1"].n) == (224 * 224, 3 * 3 * 3, 64)
    assert layers["conv1_1"].conv == (226, 226, 3, 3, 3, 64, 1, 1)
    assert (layers["conv5_3"].m, layers["conv5_3"].k, layers["conv5_3"].n) == (14 * 14, 3 * 3 * 512, 512)
    # every layer's GEMMs hold exactly its MACs
    network = get_network("vgg16")
    for w in workloads:
        assert w.m * w.k * w.n * w.groups == network.layer(w.layer).macs


def test_the_exercise_gemms_are_textbook_fc(vs):
    workloads = vs.network_workloads(get_network("textbook-fc"))
    assert [(w.m, w.k, w.n) for w in workloads] == list(TEXTBOOK_FC.values())
    assert all(w.conv is None and w.groups == 1 for w in workloads)


def test_fc_layers_only_when_asked(vs):
    layers = by_layer(vs.network_workloads(get_network("alexnet"), with_fc=True))
    assert list(layers)[-3:] == ["fc6", "fc7", "fc8"]
    assert (layers["fc6"].m, layers["fc6"].k, layers["fc6"].n) == (1, 256 * 6 * 6, 4096)


def test_layer_selection(vs):
    workloads = vs.network_workloads(get_network("alexnet")) + vs.network_workloads(get_network("vgg16"))
    assert [w.name for w in vs.select(workloads, ["vgg16:conv1_1", "conv5"])] == [
        "alexnet:conv5", "vgg16:conv1_1"]
    with pytest.raises(SystemExit, match="no layer 'conv9'"):
        vs.select(workloads, ["conv9"])


def test_gemm_and_array_arguments(vs):
    gemm = vs.parse_gemm("17x33x15")
    assert (gemm.m, gemm.k, gemm.n, gemm.name) == (17, 33, 15, "gemm:17x33x15")
    assert vs.parse_array("8x4") == (8, 4)
    for bad in ("17x33", "0x1x1", "axbxc"):
        with pytest.raises(argparse.ArgumentTypeError):
            vs.parse_gemm(bad)
    with pytest.raises(argparse.ArgumentTypeError):
        vs.parse_array("16")


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
def test_dlpsims_side_is_the_systolic_rule_once_per_group(vs, dataflow):
    machine = vs.systolic_machine(16, 16, dataflow)
    conv2 = by_layer(vs.network_workloads(get_network("alexnet")))["conv2"]
    cycles, elapsed = vs.dlpsim_cycles(conv2, machine)
    assert cycles == 2 * systolic_cycles((729, 1200, 128), 16, 16, dataflow)
    assert elapsed > 0
