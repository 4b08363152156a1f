"""Append-only numpy columns: the world grows as live events open, reads stay vectorised."""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike, NDArray

_INITIAL_ROWS = 64


class GrowableArray:
    """A numpy array growing along axis 0 with amortised O(1) appends (capacity doubling)."""

    def __init__(self, dtype: DTypeLike, width: int | None = None) -> None:
        shape = (_INITIAL_ROWS,) if width is None else (_INITIAL_ROWS, width)
        self._data: NDArray = np.zeros(shape, dtype=dtype)
        self._size = 0

    def __len__(self) -> int:
        return self._size

    @property
    def values(self) -> NDArray:
        """A view of the filled rows; invalidated by the next `extend`."""
        return self._data[: self._size]

    def extend(self, rows: NDArray) -> None:
        needed = self._size + len(rows)
        if needed > len(self._data):
            capacity = max(needed, 2 * len(self._data))
            grown = np.zeros((capacity, *self._data.shape[1:]), dtype=self._data.dtype)
            grown[: self._size] = self._data[: self._size]
            self._data = grown
        self._data[self._size : needed] = rows
        self._size = needed
