"""Quantities with units, as people write them in presets and on the command line.

Sizes use binary prefixes (KB = 1024 B, as the textbook and the contract do);
bandwidths and frequencies use decimal ones (GB/s = 1e9 B/s, GHz = 1e9 Hz),
except the explicit binary forms KiB/s, MiB/s, GiB/s, TiB/s.
Values are returned exactly, as ``int`` or :class:`fractions.Fraction`.
"""

from __future__ import annotations

import math
import re
from decimal import MAX_EMAX, MIN_EMIN, Context, Decimal, localcontext
from fractions import Fraction

_NUMBER = r"(?P<num>[0-9][0-9_]*(?:\.[0-9_]+)?(?:[eE][+-]?[0-9]+)?)"

_SIZE_UNITS = {
    "": 1, "B": 1,
    "K": 1024, "KB": 1024, "KIB": 1024,
    "M": 1024**2, "MB": 1024**2, "MIB": 1024**2,
    "G": 1024**3, "GB": 1024**3, "GIB": 1024**3,
    "T": 1024**4, "TB": 1024**4, "TIB": 1024**4,
}
_BANDWIDTH_UNITS = {
    "B/S": 1,
    "KB/S": 10**3, "MB/S": 10**6, "GB/S": 10**9, "TB/S": 10**12,
    "KIB/S": 2**10, "MIB/S": 2**20, "GIB/S": 2**30, "TIB/S": 2**40,
}
_FREQUENCY_UNITS = {"HZ": 1, "KHZ": 10**3, "MHZ": 10**6, "GHZ": 10**9}


class UnitError(ValueError):
    """A quantity that cannot be read; the message says what was expected."""


def _split(text: str, units: dict[str, int], what: str, example: str) -> Fraction:
    match = re.fullmatch(_NUMBER + r"\s*(?P<unit>[A-Za-z/]*)", text.strip())
    if not match or match["unit"].upper() not in units:
        known = ", ".join(u for u in units if u)
        raise UnitError(f"expected a {what} such as {example!r} (units: {known}), got {text!r}")
    return Fraction(match["num"].replace("_", "")) * units[match["unit"].upper()]


def whole_if_whole(value: Fraction) -> int | Fraction:
    """An exact value as an int when it is whole (so it prints and compares as one), else as is."""
    return int(value) if value.denominator == 1 else value


def parse_size(value: object) -> int:
    """Bytes from ``131072``, ``"128KB"``, ``"2MB"`` or ``"128K"``; must be a whole number."""
    if isinstance(value, bool):
        raise UnitError(f"expected a size in bytes, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        size = _split(value, _SIZE_UNITS, "size", "128KB")
        if size.denominator != 1:
            raise UnitError(f"a size must be a whole number of bytes, got {value!r}")
        return int(size)
    raise UnitError(f"expected a size such as '128KB' or a number of bytes, got {value!r}")


def parse_bandwidth(value: object) -> int | Fraction:
    """Bytes per second from ``"64GB/s"``, ``"1TB/s"``, ``"12.8GB/s"`` or a number."""
    return _parse_rate(value, _BANDWIDTH_UNITS, "bandwidth", "64GB/s")


def parse_frequency(value: object) -> int | Fraction:
    """Hertz from ``"1GHz"``, ``"800MHz"`` or a number."""
    return _parse_rate(value, _FREQUENCY_UNITS, "frequency", "1GHz")


def _parse_rate(value: object, units: dict[str, int], what: str, example: str) -> int | Fraction:
    if isinstance(value, bool):
        raise UnitError(f"expected a {what} such as {example!r}, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise UnitError(f"expected a finite {what} such as {example!r}, got {value!r}")
        return whole_if_whole(Fraction(repr(value)))
    if isinstance(value, str):
        return whole_if_whole(_split(value, units, what, example))
    raise UnitError(f"expected a {what} such as {example!r}, got {value!r}")


_READABLE_UNITS = (("TB", 1024**4), ("GB", 1024**3), ("MB", 1024**2), ("KB", 1024))


def _exact_unit(size: int) -> tuple[int, str] | None:
    """(count, unit) for the largest unit that divides ``size`` exactly, or None."""
    for unit, scale in _READABLE_UNITS:
        if size >= scale and size % scale == 0:
            return size // scale, unit
    return None


def format_size(size: int) -> str:
    """``131072`` -> ``"128 KB"``; exact, falling back to bytes."""
    exact = _exact_unit(size)
    return f"{size} B" if exact is None else f"{exact[0]} {exact[1]}"


def describe_size(size: int) -> str:
    """Exact bytes, with the readable size beside them when it says more: ``"131072 B (128 KB)"``,
    ``"13770047488 B (about 12.8 GB)"`` (an exact count of many thousands of KB reads no better
    than the bytes)."""
    exact = _exact_unit(size)
    if exact is None and size < 1024**2:
        return f"{size} B"
    if exact is None or exact[0] >= 10_000:
        unit, scale = next((unit, scale) for unit, scale in _READABLE_UNITS if size >= scale)
        return f"{size} B (about {size / scale:.3g} {unit})"
    return f"{size} B ({exact[0]} {exact[1]})"


# Past this many digits a number is counted, not read: messages print it as 1e+300.
MAX_PLAIN_DIGITS = 15


def format_number(value: int | Fraction | float, digits: int = MAX_PLAIN_DIGITS,
                  grouped: bool = False) -> str:
    """A number for people, however absurd: a whole number of up to ``digits`` digits exactly
    (``1234``, or ``1,234`` when ``grouped``), anything else as ``f"{value:.{digits}g}"`` would
    print it (``0.5``, ``1e+300``), even past the range of a float (``1e-400``)."""
    exact = Fraction(value)
    if exact.denominator == 1 and abs(exact.numerator) < 10**digits:
        return f"{exact.numerator:,}" if grouped else str(exact.numerator)
    try:
        approximate = float(exact)
    except OverflowError:
        approximate = math.inf
    if math.isfinite(approximate) and (approximate != 0 or exact == 0):
        return f"{approximate:.{digits}g}"
    # Outside a float's range: round the exact value in decimal, which has no such range.
    with localcontext(Context(prec=digits, Emax=MAX_EMAX, Emin=MIN_EMIN)):
        decimal = Decimal(exact.numerator) / Decimal(exact.denominator)
    return f"{decimal.normalize():.{digits}g}"


def format_rate(value: int | Fraction, units: dict[str, int]) -> str:
    for unit, scale in sorted(units.items(), key=lambda item: -item[1]):
        if value >= scale and scale > 1:
            return f"{format_number(Fraction(value) / scale, digits=6)} {unit}"
    return f"{format_number(value, digits=6)} {min(units, key=units.get)}"


def format_frequency(hertz: int | Fraction) -> str:
    """``1e9`` -> ``"1 GHz"``."""
    return format_rate(hertz, {"Hz": 1, "kHz": 10**3, "MHz": 10**6, "GHz": 10**9})


ENERGY_UNITS = {"pJ": 1, "nJ": 10**3, "uJ": 10**6, "mJ": 10**9, "J": 10**12}


def format_energy(picojoules: int | Fraction) -> str:
    """``1.5e6`` pJ -> ``"1.5 uJ"``."""
    return format_rate(picojoules, ENERGY_UNITS)


def energy_unit(picojoules: int | Fraction) -> tuple[str, int]:
    """The unit to show an amount of energy in, and its size in pJ: the largest not above it."""
    return max(((unit, scale) for unit, scale in ENERGY_UNITS.items() if scale <= max(picojoules, 1)),
               key=lambda item: item[1])


def format_power(watts: int | Fraction) -> str:
    """``Fraction(3, 2)`` W -> ``"1.5 W"``."""
    return format_rate(Fraction(watts) * 10**6, {"uW": 1, "mW": 10**3, "W": 10**6})


def format_seconds(seconds: Fraction | float) -> str:
    """A duration with a readable unit: ``34e-9`` -> ``"34 ns"``."""
    try:
        approximate = float(seconds)
    except OverflowError:  # longer than a float holds (a clock of 1e-400 Hz)
        return f"{format_number(seconds, digits=6)} s"
    if approximate == 0 and seconds != 0:  # shorter than a float holds (a clock of 1e400 Hz)
        return f"{format_number(Fraction(seconds) * 10**9, digits=6)} ns"
    unit, scale = time_unit(approximate)
    return f"{approximate / scale:.6g} {unit}"


def time_unit(seconds: float) -> tuple[str, float]:
    """The unit to show a duration in, and its length in seconds: s, ms, us, else ns."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return unit, scale
    return "ns", 1e-9
