"""Machine configuration: typed, validated, frozen; loaded from TOML presets and overrides."""

from dlpsim.machine.config import (
    CoreConfig,
    CostConfig,
    DramConfig,
    LinkConfig,
    MachineConfig,
    MatrixUnitConfig,
    MemoryConfig,
    SharedConfig,
    VectorUnitConfig,
)
from dlpsim.machine.loader import DEFAULT_PRESET, load_machine, preset_names, preset_text
from dlpsim.machine.schema import display_unit, key_parser, numeric_keys, stored_unit

__all__ = [
    "DEFAULT_PRESET", "CoreConfig", "CostConfig", "DramConfig", "LinkConfig", "MachineConfig",
    "MatrixUnitConfig", "MemoryConfig", "SharedConfig", "VectorUnitConfig", "display_unit",
    "key_parser", "load_machine", "numeric_keys", "preset_names", "preset_text", "stored_unit",
]
