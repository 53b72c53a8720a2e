"""Greedy nearest-neighbour matching on a scalar distance, reproducing R MatchIt 4.5.

Why our own code: no Python package reproduces MatchIt's matched sets. dowhy's
propensity-score matcher is 1:1 with replacement and has no caliper; pymatchit-causal is young
and unverified. The algorithm below follows MatchIt's ``nn_matchC_vec.cpp`` (method
``"nearest"`` with a vector distance) step for step, so the parity tests can demand identical
matched sets:

* all units are ordered by distance with a stable sort (``sort.list``); a control is "left" of
  a treated unit when it comes earlier in that order;
* matching runs in rounds ``r = 1..ratio``; within a round the treated units are visited in
  ``m_order`` (``"largest"`` distance first by default for the ATT);
* each treated unit takes the closest available control on either side (the left one on a tie);
  a control already matched to the same treated unit is skipped; if the closest available
  control is outside the caliper, the unit gets no match in this round;
* without replacement a control is used once; with replacement it can be reused;
* exact matching splits the data into strata and matches inside each one (MatchIt 4.5 does the
  same), while the caliper width is computed once on the whole sample;
* the caliper is in standard deviations of the distance among non-discarded units
  (``std.caliper = TRUE``).

Controls are kept in a sorted array with union-find "next available" pointers, so a walk past
used controls costs near-constant time instead of MatchIt's linear scan; the result is the same.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

M_ORDERS = ("largest", "smallest", "random", "data")


@dataclass(frozen=True)
class MatchOutput:
    """Matched sets in positional indices of the input arrays.

    ``match_matrix[i, r]`` is the control matched to the i-th treated unit (in data order) in
    round r, or -1. ``weights`` are MatchIt's ATT matching weights; ``subclass`` numbers matched
    sets (1, 2, ...; 0 = unmatched) and is only defined without replacement.
    """

    treated_positions: np.ndarray
    match_matrix: np.ndarray
    weights: np.ndarray
    subclass: np.ndarray | None
    caliper_width: float | None


def _find(parent: np.ndarray, j: int) -> int:
    root = j
    while parent[root] != root:
        root = parent[root]
    while parent[j] != root:  # path compression
        parent[j], j = root, parent[j]
    return root


def _treated_order(distance: np.ndarray, m_order: str, rng: np.random.Generator) -> np.ndarray:
    if m_order == "largest":
        return np.argsort(-distance, kind="stable")
    if m_order == "smallest":
        return np.argsort(distance, kind="stable")
    if m_order == "random":
        return rng.permutation(len(distance))
    if m_order == "data":
        return np.arange(len(distance))
    raise ValueError(f"m_order must be one of {M_ORDERS}, got {m_order!r}")


def _match_stratum(
    distance: np.ndarray,
    treated: np.ndarray,
    discarded: np.ndarray,
    *,
    ratio: int,
    replace: bool,
    caliper_width: float | None,
    m_order: str,
    rng: np.random.Generator,
) -> np.ndarray:
    """Match inside one stratum; returns (n_treated, ratio) control positions or -1."""
    n = len(distance)
    sort = np.argsort(distance, kind="stable")
    rank = np.empty(n, dtype=np.int64)
    rank[sort] = np.arange(n)
    controls = sort[~treated[sort]]
    n_controls = len(controls)
    control_distance = distance[controls]
    available = ~discarded[controls]
    treated_positions = np.flatnonzero(treated)
    insertion = np.searchsorted(rank[controls], rank[treated_positions])
    # right[j]: next available control index >= j (n_controls = none);
    # left[j + 1]: next available control index <= j, shifted by one (0 = none).
    idx = np.arange(n_controls + 1)
    right = np.where(np.append(available, True), idx, idx + 1)
    left = np.where(np.insert(available, 0, True), idx, idx - 1)

    def take(j: int) -> None:
        right[j] = j + 1
        left[j + 1] = j

    def walk(start: int, step: int, row: list[int], d0: float) -> int:
        j = start
        while 0 <= j < n_controls:
            j = _find(right, j) if step > 0 else _find(left, j + 1) - 1
            if j < 0 or j >= n_controls:
                return -1
            if j in row:
                j += step
                continue
            if caliper_width is not None and abs(d0 - control_distance[j]) > caliper_width:
                return -1
            return j
        return -1

    mm = np.full((len(treated_positions), ratio), -1, dtype=np.int64)
    chosen: list[list[int]] = [[] for _ in treated_positions]
    order = _treated_order(distance[treated_positions], m_order, rng)
    for r in range(ratio):
        for i in order:
            if discarded[treated_positions[i]]:
                continue
            d0 = distance[treated_positions[i]]
            k_left = walk(insertion[i] - 1, -1, chosen[i], d0)
            k_right = walk(insertion[i], 1, chosen[i], d0)
            if k_left >= 0 and k_right >= 0:
                closer_left = abs(control_distance[k_left] - d0) <= abs(
                    control_distance[k_right] - d0
                )
                k = k_left if closer_left else k_right
            elif k_left >= 0 or k_right >= 0:
                k = max(k_left, k_right)
            else:
                continue
            mm[i, r] = controls[k]
            chosen[i].append(k)
            if not replace:
                take(k)
    return mm


def matching_weights(match_matrix: np.ndarray, treated_positions: np.ndarray, n: int) -> np.ndarray:
    """MatchIt's ATT weights: 1 for matched treated; controls get the sum over the treated they
    serve of 1/(number of matches of that treated unit), rescaled to sum to the number of
    matched controls."""
    weights = np.zeros(n)
    counts = (match_matrix >= 0).sum(axis=1)
    weights[treated_positions[counts > 0]] = 1.0
    rows, cols = np.nonzero(match_matrix >= 0)
    np.add.at(weights, match_matrix[rows, cols], 1.0 / counts[rows])
    control = np.zeros(n, dtype=bool)
    control[match_matrix[match_matrix >= 0]] = True
    if control.any():
        weights[control] *= control.sum() / weights[control].sum()
    return weights


def _subclasses(match_matrix: np.ndarray, treated_positions: np.ndarray, n: int) -> np.ndarray:
    subclass = np.zeros(n, dtype=np.int64)
    matched = (match_matrix >= 0).any(axis=1)
    labels = np.cumsum(matched)
    for i in np.flatnonzero(matched):
        subclass[treated_positions[i]] = labels[i]
        row = match_matrix[i]
        subclass[row[row >= 0]] = labels[i]
    return subclass


def match_nearest(
    distance: np.ndarray,
    treated: np.ndarray,
    *,
    ratio: int = 1,
    caliper: float | None = None,
    std_caliper: bool = True,
    replace: bool = False,
    exact_codes: np.ndarray | None = None,
    discarded: np.ndarray | None = None,
    m_order: str = "largest",
    seed: int = 0,
) -> MatchOutput:
    """k:1 greedy nearest-neighbour matching on ``distance`` (see the module docstring).

    Parameters
    ----------
    distance : array of float
        The matching distance (propensity score or its logit), one per unit.
    treated : array of bool
        Treatment indicator; treated units are matched to controls (ATT).
    ratio : int
        Number of controls per treated unit.
    caliper : float, optional
        Maximum distance between matched units; in SDs of ``distance`` if ``std_caliper``.
    replace : bool
        Whether a control may be matched to several treated units.
    exact_codes : array, optional
        Units only match within equal codes (e.g. arrival quarter).
    discarded : array of bool, optional
        Units excluded by a common-support or trimming rule; they are never matched.
    m_order : {"largest", "smallest", "random", "data"}
        Order in which treated units pick controls.
    seed : int
        Seed for ``m_order="random"`` (does not reproduce R's random order).
    """
    distance = np.asarray(distance, dtype=float)
    treated = np.asarray(treated, dtype=bool)
    n = len(distance)
    if discarded is None:
        discarded = np.zeros(n, dtype=bool)
    if int(ratio) != ratio or ratio < 1:
        raise ValueError(f"ratio must be a positive integer, got {ratio!r}")
    ratio = int(ratio)
    caliper_width = None
    if caliper is not None:
        if caliper <= 0:
            raise ValueError(f"caliper must be positive, got {caliper!r}")
        scale = np.std(distance[~discarded], ddof=1) if std_caliper else 1.0
        caliper_width = float(caliper * scale)
    rng = np.random.default_rng(seed)
    treated_positions = np.flatnonzero(treated)
    mm = np.full((len(treated_positions), ratio), -1, dtype=np.int64)
    codes = np.zeros(n, dtype=np.int64) if exact_codes is None else _codes(exact_codes)
    row_of = np.full(n, -1, dtype=np.int64)
    row_of[treated_positions] = np.arange(len(treated_positions))
    for code in np.unique(codes):
        members = np.flatnonzero(codes == code)
        sub_treated = treated[members]
        if not sub_treated.any() or sub_treated.all():
            continue
        sub_mm = _match_stratum(
            distance[members],
            sub_treated,
            discarded[members],
            ratio=ratio,
            replace=replace,
            caliper_width=caliper_width,
            m_order=m_order,
            rng=rng,
        )
        rows = row_of[members[sub_treated]]
        mm[rows] = np.where(sub_mm >= 0, members[np.maximum(sub_mm, 0)], -1)
    weights = matching_weights(mm, treated_positions, n)
    subclass = None if replace else _subclasses(mm, treated_positions, n)
    return MatchOutput(treated_positions, mm, weights, subclass, caliper_width)


def _codes(values: np.ndarray) -> np.ndarray:
    _, codes = np.unique(np.asarray(values, dtype=str), return_inverse=True)
    return codes
