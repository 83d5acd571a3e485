"""The report of `dlpsim net verify` and `dlpsim compile --verify` (dlpsim.run.verify's results)."""

from __future__ import annotations

from dlpsim.analysis.tables import align
from dlpsim.run.verify import NetworkCheck


def format_check(check: NetworkCheck) -> str:
    """Per layer its elements, K, largest errors and verdict; then the tolerance and the verdict,
    naming the first mismatching element if there is one."""
    rows = [["layer", "kind", "elements", "K", "max |error|", "max relative", "of tolerance", ""]]
    for layer in check.layers:
        if not layer.executed:
            rows.append([layer.name, layer.kind, "-", "-", "-", "-", "-", "nothing to execute (a view)"])
            continue
        rows.append([layer.name, layer.kind, f"{layer.elements:,}", str(layer.terms),
                     f"{layer.max_abs_error:.3g}", f"{layer.max_rel_error:.3g}",
                     f"{layer.worst_of_tolerance:.3f}", "ok" if layer.passed else "MISMATCH"])
    batch = f", batch {check.batch}" if check.batch > 1 else ""
    lines = [f"{check.network} on {check.machine}: every compiled layer executed on random data (seed "
             f"{check.seed}{batch}) and compared with numpy", "",
             *align(rows, [False, False, True, True, True, True, True, False]), "",
             "tolerance: |got - expected| <= K x eps x S + 4 eps |expected|, eps = 2^-23 (float32), K "
             "the terms an element sums, S their absolute values summed (relative = |error| / S)"]
    found = check.first_mismatch
    executed = sum(layer.executed for layer in check.layers)
    if found is None and not executed:
        lines.append("nothing to verify: no layer executes anything of its own")
    elif found is None:
        lines.append(f"verified: {executed} layer{'s' if executed != 1 else ''} within the tolerance")
    else:
        layer, mismatch = found
        lines.append(f"MISMATCH: {mismatch.describe(layer.name, check.batch)}")
    return "\n".join(lines) + "\n"
