"""Did crime move round the corner? Rings around treated cells against rings around control cells.

After an intervention period, crime in rings (distance bands) around the treated cells is compared
with crime in the same rings around control cells chosen to match the treated cells' counts before.
A ratio of ratios (after/before around treated, over after/before around controls) above 1 in the
inner ring suggests displacement; below 1, a diffusion of benefits. The weighted displacement
quotient (Bowers and Johnson 2003) summarises the first ring against the treated area itself.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage

from safertogether.forecast.grid import Grid


def _ring_masks(grid: Grid, cells: np.ndarray, rings_m: list[float]) -> list[np.ndarray]:
    """Boolean masks (per cell) of each distance band around ``cells`` (excluding them and inner bands)."""
    seed = np.zeros(grid.n, bool)
    seed[cells] = True
    inside = grid.from_raster(grid.to_raster(seed.astype(np.float32))) > 0
    distance = ndimage.distance_transform_edt(grid.to_raster((~seed).astype(np.float32), fill=1.0) > 0)
    distance_m = grid.from_raster(distance) * grid.size_m
    masks, inner = [], 0.0
    for outer in rings_m:
        masks.append(~inside & (distance_m > inner) & (distance_m <= outer))
        inner = outer
    return masks


def _rate_ratio(tb: float, ta: float, cb: float, ca: float) -> dict[str, float | None]:
    if max(tb, cb) <= 0 or max(ta, ca) <= 0:
        return {"ratio": None, "low": None, "high": None}
    if min(tb, ta, cb, ca) <= 0:  # Haldane's correction: a zero count would make the ratio 0 or infinite
        tb, ta, cb, ca = tb + 0.5, ta + 0.5, cb + 0.5, ca + 0.5
    ratio = (ta / tb) / (ca / cb)
    se = np.sqrt(1 / tb + 1 / ta + 1 / cb + 1 / ca)
    return {"ratio": round(float(ratio), 3), "low": round(float(ratio * np.exp(-1.96 * se)), 3),
            "high": round(float(ratio * np.exp(1.96 * se)), 3)}


def displacement_check(grid: Grid, before: np.ndarray, after: np.ndarray, treated: np.ndarray,
                       rings_m: tuple[float, ...] = (250.0, 500.0, 750.0), seed: int = 0) -> dict[str, Any]:
    """Compare rings around ``treated`` cells with rings around matched controls.

    Args:
        before, after: counts per cell in the periods before and during/after the intervention.
        treated: indices of the treated cells.
    """
    treated = np.unique(np.asarray(treated, np.int64))
    excluded = np.zeros(grid.n, bool)
    excluded[treated] = True
    for mask in _ring_masks(grid, treated, [rings_m[-1] * 2]):
        excluded |= mask
    pool = np.flatnonzero(~excluded)
    rng = np.random.default_rng(seed)
    controls = []
    available = pool[rng.permutation(len(pool))]
    for cell in treated[np.argsort(-before[treated])]:  # match the busiest first
        if len(available) == 0:
            break
        pick = int(np.argmin(np.abs(before[available] - before[cell])))
        controls.append(available[pick])
        available = np.delete(available, pick)
    controls = np.array(controls, np.int64)
    rings_t = _ring_masks(grid, treated, list(rings_m))
    rings_c = _ring_masks(grid, controls, list(rings_m)) if len(controls) else [np.zeros(grid.n, bool)] * len(rings_m)
    out_rings = []
    inner = 0.0
    for outer, rt, rc in zip(rings_m, rings_t, rings_c, strict=True):
        tb, ta, cb, ca = before[rt].sum(), after[rt].sum(), before[rc].sum(), after[rc].sum()
        out_rings.append({"from_m": inner, "to_m": outer, "treated_before": float(tb), "treated_after": float(ta),
                          "control_before": float(cb), "control_after": float(ca), **_rate_ratio(tb, ta, cb, ca)})
        inner = outer
    rb, ra = before[treated].sum(), after[treated].sum()
    cb, ca = before[controls].sum(), after[controls].sum()
    db, da = out_rings[0]["treated_before"], out_rings[0]["treated_after"]
    wdq = None
    if min(cb, ca) > 0 and rb / cb != ra / ca:
        wdq = round(float((da / ca - db / cb) / (ra / ca - rb / cb)), 3)
    return {"treated_cells": int(len(treated)), "control_cells": int(len(controls)),
            "treated": {"before": float(rb), "after": float(ra)}, "controls": {"before": float(cb), "after": float(ca)},
            "treated_vs_control": _rate_ratio(rb, ra, cb, ca), "rings": out_rings,
            "weighted_displacement_quotient": wdq,
            "reading": _reading(out_rings[0].get("ratio"), out_rings[0].get("low"), out_rings[0].get("high"))}


def _reading(ratio: float | None, low: float | None, high: float | None) -> str:
    if ratio is None or low is None or high is None:
        return "too few events in the rings to judge displacement"
    if low > 1:
        return f"crime rose in the first ring relative to the controls (x{ratio}): possible displacement"
    if high < 1:
        return f"crime fell in the first ring relative to the controls (x{ratio}): a diffusion of benefits"
    return f"no clear change in the first ring relative to the controls (x{ratio}, 95% CI {low}-{high})"
