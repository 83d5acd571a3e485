"""Machine configuration: typed, validated, frozen; loaded from TOML presets and overrides."""

from dlpsim.machine.config import (
    CoreConfig,
    DramConfig,
    LinkConfig,
    MachineConfig,
    MatrixUnitConfig,
    MemoryConfig,
    SharedConfig,
    VectorUnitConfig,
)
from dlpsim.machine.loader import DEFAULT_PRESET, load_machine, preset_names, preset_text

__all__ = [
    "DEFAULT_PRESET", "CoreConfig", "DramConfig", "LinkConfig", "MachineConfig",
    "MatrixUnitConfig", "MemoryConfig", "SharedConfig", "VectorUnitConfig", "load_machine",
    "preset_names", "preset_text",
]
