"""benchmarks/vs_zigzag.py without ZigZag: its message, and DLP-S as it describes it to ZigZag."""

from __future__ import annotations

import dataclasses
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
from benchmark_scripts import benchmark_module

from dlpsim.machine import load_machine
from dlpsim.workloads import get_network

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "vs_zigzag.py"


@pytest.fixture(scope="module")
def vs():
    with benchmark_module("vs_zigzag") as module:
        yield module


def test_without_zigzag_it_says_how_to_install_it_and_exits_0():
    if importlib.util.find_spec("zigzag") is not None:
        pytest.skip("ZigZag is installed here, so the script would run the whole comparison")
    result = subprocess.run([sys.executable, str(SCRIPT), "--layers", "vgg16:conv1_1"], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "ZigZag is not importable" in result.stdout and "pip install zigzag-dse" in result.stdout
    assert "the same 1 layers" in result.stdout


def test_dlp_s_is_described_with_the_presets_energy_per_byte(vs):
    machine = load_machine("dlp-s")
    hardware = vs.accelerator(machine)
    memories = hardware["memories"]
    # ZigZag charges an access of the port's full width: cost = pJ per byte x port bytes
    assert memories["nram"]["r_cost"] == 5 * 2048 / 8 and memories["wram"]["w_cost"] == 7.07 * 2048 / 8
    assert memories["dram"]["r_cost"] == 162.5 * 512 / 8  # the 64 B/cycle DRAM link: 512 bits
    assert memories["dram"]["ports"][0]["bandwidth_max"] == 512
    assert memories["nram"]["size"] == 128 * 1024 * 8 and memories["wram"]["size"] == 256 * 1024 * 8
    assert hardware["operational_array"] == {"unit_energy": 4.6, "unit_area": 1, "dimensions": ["D1", "D2"],
                                             "sizes": [16, 16]}
    cheaper = vs.accelerator(load_machine("dlp-s", overrides=["dram.read_pj_per_byte=10"]))
    assert cheaper["memories"]["dram"]["r_cost"] == 10 * 512 / 8


def test_layers_are_described_with_their_shapes_and_no_bias(vs):
    network = get_network("vgg16")
    conv = dataclasses.replace(network.layer("conv1_1"), bias=False)
    layer = vs.zigzag_layer(conv)
    assert layer["loop_sizes"] == [1, 64, 3, 224, 224, 3, 3]
    assert layer["padding"] == [[1, 1], [1, 1]] and layer["pr_loop_sizes"] == [224, 224]
    assert layer["dimension_relations"] == ["ix=1*ox+1*fx", "iy=1*oy+1*fy"]
    # three input channels: the array's columns take output columns instead
    machine = load_machine("dlp-s")
    assert vs.zigzag_mapping(conv, machine)[0]["spatial_mapping"] == {"D1": ["K, 16"], "D2": ["OX, 16"]}
    fc = vs.zigzag_layer(get_network("alexnet-single").layer("fc8"))
    assert fc["loop_sizes"] == [1, 1000, 4096, 1, 1, 1, 1]
    alexnet_conv1 = vs.zigzag_layer(get_network("alexnet-single").layer("conv1"))
    assert alexnet_conv1["dimension_relations"][0] == "ix=4*ox+1*fx"
