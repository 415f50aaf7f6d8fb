"""The fault codes formcheck judges.

They are exactly the keys of the hand labels in ``../shared/data/lifts/labels.json``
(see LABELS.md there), so evaluation needs no mapping.
"""

from __future__ import annotations

FAULT_CODES: tuple[str, ...] = (
    "rounded_back",
    "hips_rise_early",
    "excessive_forward_lean",
    "shallow_depth",
    "knee_cave",
    "heels_lift",
    "hyperextension_lockout",
    "bar_drift",
    "hips_too_low_start",
    "incomplete_lockout",
)
