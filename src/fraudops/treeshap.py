"""Exact TreeSHAP contributions of a binary XGBoost model, from a table made once per model.

XGBoost's ``pred_contribs`` walks every path of every tree for each row it explains: for the
200-tree model, about 0.46 ms of CPU a row, more than a whole plain ``/predict`` request. The
values it computes (path-dependent TreeSHAP, Lundberg et al. 2018) have a structure that lets
most of that work be done once per model instead (Fast TreeSHAP v2, Yang 2021): a leaf's share
in a row's contributions depends on the row only through *which of the splits on the leaf's
path the row's values agree with*. So for every leaf and every such pattern the contributions
are computed when the table is made; a row then costs one comparison per split, one lookup per
leaf and one sum per feature (``make bench ARGS=explain`` reports the rate beside XGBoost's).

The values are XGBoost's own: the same trees, covers, missing-value directions and categorical
splits, compared in float32 as XGBoost compares; ``tests/unit/test_treeshap.py`` holds them to
``pred_contribs`` within float32 rounding, and their sum plus the bias to the margin. A model
whose table would pass ``MAX_TABLE_BYTES`` (a leaf takes 2**depth rows: 4,000 leaves deeper
than 8), or that is not a single-output tree model, gets no table: its caller asks XGBoost.

How a leaf's contributions are computed: along its path, each distinct feature ``j`` has a
zero fraction ``z_j`` (the product of the cover ratios of its splits on the path) and a one
fraction ``o_j`` (1 if the row agrees with every split on ``j``, else 0). For ``k`` features
on the path, feature ``i`` gets ``v (o_i - z_i) Σ_s s!(k-s-1)!/k! · e_s``, where ``e_s`` is the
coefficient of ``t^s`` in ``Π_{j≠i} (o_j t + z_j)`` and ``v`` the leaf's value.
"""

from __future__ import annotations

import json
import math
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import xgboost as xgb

MAX_TABLE_BYTES = 64 * 2**20  # a bigger table (deep trees) is left to XGBoost's own TreeSHAP
# rows explained together: their lookups (leaves x path features x 4 bytes a row) stay in the
# CPU's caches; past about this size a row took nearly twice as long (bench/HISTORY.md)
CHUNK_BYTES = 3 * 2**19


def leaf_contributions(zero: np.ndarray, value: np.ndarray) -> np.ndarray:
    """(leaves, 2**k, k): each leaf's contribution to each of its ``k`` path features.

    ``zero`` is (leaves, k) zero fractions, ``value`` the leaves' values; the middle axis is
    the pattern, bit ``j`` set when the row agrees with the path's splits on feature ``j``.
    """
    n, k = zero.shape
    one = ((np.arange(1 << k)[:, None] >> np.arange(k)) & 1).astype(np.float64)  # (2**k, k)
    weight = np.array(
        [math.factorial(s) * math.factorial(k - s - 1) / math.factorial(k) for s in range(k)]
    )
    out = np.empty((n, 1 << k, k))
    for i in range(k):
        # coefficients of prod over j != i of (o_j t + z_j), degree by degree
        coef = np.zeros((n, 1 << k, k))
        coef[:, :, 0] = 1.0
        degree = 0
        for j in range(k):
            if j == i:
                continue
            grown = coef * zero[:, j, None, None]
            grown[:, :, 1 : degree + 2] += coef[:, :, : degree + 1] * one[None, :, j, None]
            coef = grown
            degree += 1
        out[:, :, i] = value[:, None] * (one[None, :, i] - zero[:, i, None]) * (coef @ weight)
    return out


Step = tuple[int, bool, int, float]  # a path's step: split, goes left, feature, cover ratio


@dataclass
class _Trees:
    """Every split of every tree, and every leaf's path through them."""

    feature: list[int]
    threshold: list[float]
    default_left: list[bool]
    categories: dict[int, list[int]]  # a categorical split's categories (they go right)
    leaves: list[tuple[float, list[Step]]]  # each leaf's value and path


def _read_trees(model: dict[str, Any]) -> _Trees:
    trees = _Trees([], [], [], {}, [])
    for tree in model["learner"]["gradient_booster"]["model"]["trees"]:
        left, right = tree["left_children"], tree["right_children"]
        split_on, cond, hess = tree["split_indices"], tree["split_conditions"], tree["sum_hessian"]
        kinds = tree.get("split_type") or [0] * len(left)
        segments, sizes = tree.get("categories_segments", []), tree.get("categories_sizes", [])
        sets = {
            node: tree["categories"][segments[q] : segments[q] + sizes[q]]
            for q, node in enumerate(tree.get("categories_nodes", []))
        }
        split_of: dict[int, int] = {}
        for node in range(len(left)):
            if left[node] != -1:
                split_of[node] = len(trees.feature)
                trees.feature.append(split_on[node])
                trees.threshold.append(cond[node])
                trees.default_left.append(bool(tree["default_left"][node]))
                if kinds[node] == 1:
                    trees.categories[split_of[node]] = sets.get(node, [])
        stack: list[tuple[int, list[Step]]] = [(0, [])]
        while stack:
            node, path = stack.pop()
            if left[node] == -1:
                trees.leaves.append((cond[node], path))
                continue
            for child, goes_left in ((left[node], True), (right[node], False)):
                step = (split_of[node], goes_left, split_on[node], hess[child] / hess[node])
                stack.append((child, [*path, step]))
    return trees


class ShapTable:
    """A model's TreeSHAP table: :meth:`contributions` is ``pred_contribs``, computed faster."""

    def __init__(self, trees: _Trees, features: int, bias: float) -> None:
        self.features, self.bias = features, bias
        self.splits = len(trees.feature)
        self.split_feature = np.array(trees.feature, np.intp)
        self.split_threshold = np.array(trees.threshold, np.float32)
        self.default_left = np.array(trees.default_left, bool)
        self.category_splits = np.array(sorted(trees.categories), np.intp)
        width = max((max(c) + 1 for c in trees.categories.values() if c), default=1)
        self.goes_right = np.zeros((len(self.category_splits), width), bool)
        for q, split in enumerate(self.category_splits):
            self.goes_right[q, trees.categories[split]] = True

        leaves = trees.leaves
        self.depth = max(len(path) for _, path in leaves)
        slots = [list(dict.fromkeys(f for _, _, f, _ in path)) for _, path in leaves]
        self.width = max(map(len, slots))
        # a leaf's path, one split per depth; past its end, the last column of the row's
        # decisions (always 1) against "goes right" (1): never agreed with, bit 0
        path_split = np.full((self.depth, len(leaves)), self.splits, np.intp)
        path_right = np.ones((self.depth, len(leaves)), np.uint8)
        self.start = np.zeros(len(leaves), np.int32)  # a leaf's first row of the table
        row = 0
        for leaf, (_, path) in enumerate(leaves):
            for d, (split, goes_left, _, _) in enumerate(path):
                path_split[d, leaf], path_right[d, leaf] = split, not goes_left
            self.start[leaf] = row
            row += 1 << len(path)
        self.path_split, self.path_right = path_split.ravel(), path_right.ravel()
        self.table = np.zeros((row, self.width), np.float32)
        groups: dict[tuple[int, int], list[int]] = {}
        for leaf, (_, path) in enumerate(leaves):
            groups.setdefault((len(path), len(slots[leaf])), []).append(leaf)
        for (depth, k), members in groups.items():
            if k:
                self._fill(trees, slots, members, depth, k)
        # the table's columns summed per feature: (leaf, slot) entries ordered by feature
        feature_of = np.full((len(leaves), self.width), -1, np.intp)
        for leaf, names in enumerate(slots):
            feature_of[leaf, : len(names)] = names
        flat = feature_of.ravel()
        used = np.flatnonzero(flat >= 0)
        self.order = used[np.argsort(flat[used], kind="stable")]
        self.summed, self.bounds = np.unique(flat[self.order], return_index=True)

    def _fill(
        self, trees: _Trees, slots: list[list[int]], members: list[int], depth: int, k: int
    ) -> None:
        """The table's rows of the leaves whose paths have ``depth`` splits on ``k`` features."""
        slot = np.array(
            [[slots[leaf].index(f) for _, _, f, _ in trees.leaves[leaf][1]] for leaf in members]
        )
        ratio = np.array([[r for _, _, _, r in trees.leaves[leaf][1]] for leaf in members])
        zero = np.ones((len(members), k))
        for d in range(depth):
            np.multiply.at(zero, (np.arange(len(members)), slot[:, d]), ratio[:, d])
        value = np.array([trees.leaves[leaf][0] for leaf in members])
        by_feature = leaf_contributions(zero, value)  # (n, 2**k, k)
        # a depth pattern agrees with a feature when it agrees with each of its splits
        disagree = 1 - ((np.arange(1 << depth)[:, None] >> np.arange(depth)) & 1)  # (2**d, d)
        missed = np.bitwise_or.reduce(disagree[None, :, :] << slot[:, None, :], axis=2)
        pattern = ((1 << k) - 1) & ~missed  # (n, 2**d): the feature pattern of each
        rows = np.take_along_axis(by_feature, pattern[:, :, None], axis=1)  # (n, 2**d, k)
        for q, leaf in enumerate(members):
            self.table[self.start[leaf] : self.start[leaf] + (1 << depth), :k] = rows[q]

    def contributions(self, matrix: np.ndarray, *, threads: int = 1) -> np.ndarray:
        """(rows, features + 1) float32: each feature's contribution, then the bias.

        ``threads`` > 1 splits the rows over that many threads (numpy lets go of the GIL
        for the lookups and sums): for files, not for a request's few rows.
        """
        matrix = np.asarray(matrix, np.float32)  # compared in float32, as XGBoost compares
        out = np.zeros((len(matrix), self.features + 1), np.float32)
        out[:, -1] = self.bias
        if not self.depth:  # trees of one leaf each: every row gets the bias alone
            return out
        step = max(1, CHUNK_BYTES // (len(self.start) * self.width * 4))
        starts = range(0, len(matrix), step)

        def fill(begin: int) -> None:
            chunk = matrix[begin : begin + step]
            out[begin : begin + len(chunk), self.summed] = self._sums(chunk)

        if threads > 1 and len(starts) > 1:
            with ThreadPoolExecutor(min(threads, len(starts))) as pool:
                list(pool.map(fill, starts))
        else:
            for begin in starts:
                fill(begin)
        return out

    def _sums(self, rows: np.ndarray) -> np.ndarray:
        values = rows[:, self.split_feature]
        missing = np.isnan(values)
        left = np.empty((len(rows), self.splits + 1), np.uint8)
        left[:, -1] = 1
        np.logical_or(
            values < self.split_threshold, missing & self.default_left, out=left[:, :-1].view(bool)
        )
        if len(self.category_splits):
            code = values[:, self.category_splits]
            known = (code >= 0) & (code < self.goes_right.shape[1])
            right = self.goes_right[
                np.arange(len(self.category_splits)), np.where(known, code, 0).astype(np.intp)
            ]
            chosen = np.where(
                missing[:, self.category_splits],
                self.default_left[self.category_splits],
                ~(right & known),
            )
            left[:, self.category_splits] = chosen
        # 1 where the row agrees with the path's split at that depth; packed into a leaf's row
        agree = np.take(left, self.path_split, axis=1)
        agree ^= self.path_right
        agree = agree.reshape(len(rows), self.depth, -1)
        pattern = agree[:, 0].astype(np.int32)
        for d in range(1, self.depth):
            pattern |= agree[:, d].astype(np.int32) << d
        pattern += self.start
        found = np.take(self.table, pattern, axis=0).reshape(len(rows), -1)
        return np.add.reduceat(np.take(found, self.order, axis=1), self.bounds, axis=1)


_TABLES: weakref.WeakKeyDictionary[Any, ShapTable | None] = weakref.WeakKeyDictionary()
_MAKING = threading.Lock()


def for_booster(booster: xgb.Booster) -> ShapTable | None:
    """The booster's table, made on first use and kept while the booster lives.

    None for a model this table cannot hold (see the module's docstring): ask XGBoost.
    """
    try:
        return _TABLES[booster]
    except KeyError:
        pass
    with _MAKING:  # one table per model, even when two threads ask for it at once
        if booster not in _TABLES:
            _TABLES[booster] = make(booster)
        return _TABLES[booster]


def make(booster: xgb.Booster) -> ShapTable | None:
    """A new table for ``booster``, or None for a model it cannot hold (module docstring)."""
    import xgboost as xgb

    model = json.loads(booster.save_raw(raw_format="json"))
    params = model["learner"]["learner_model_param"]
    if model["learner"]["gradient_booster"]["name"] != "gbtree":  # dart's dropped trees, gblinear
        return None
    if int(params.get("num_class", 0)) > 1 or int(params.get("num_target", 1)) > 1:
        return None
    try:
        trees = _read_trees(model)
    except ZeroDivisionError:  # a split of zero cover: XGBoost's own walk handles it
        return None
    if not trees.leaves:
        return None
    rows = sum(1 << len(path) for _, path in trees.leaves)
    width = max(len({f for _, _, f, _ in path}) for _, path in trees.leaves)
    if rows * max(width, 1) * 4 > MAX_TABLE_BYTES:
        return None
    features = booster.num_features()
    # the bias (the trees' expected value plus the base score) is the same for every row
    probe = xgb.DMatrix(np.zeros((1, features), np.float32), nthread=1)
    bias = float(booster.predict(probe, pred_contribs=True, validate_features=False)[0, -1])
    return ShapTable(trees, features, bias)
