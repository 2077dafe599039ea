"""Argument checks for the public wrappers of the kernels: one-line errors that name the fix.

The kernels run with bounds checking off, so an array of the wrong dtype or
shape would be read or written out of bounds without a word. Each wrapper
therefore states what it accepts for every array argument as an
`ArrayContract` and checks it before calling a kernel:

    dtype       exactly this NumPy dtype;
    shape       this shape, None on an axis taking any size;
    contiguous  C-contiguous (the default): the layout the kernels are
                compiled and warmed up for (vca.warmup), so a strided array
                never compiles a new specialisation in the middle of a run.
                Frames from a decoder arrive as strided views of its planes:
                the wrappers taking frames accept any strides (contiguous=False).

A wrapper called every frame with the same buffers (the analyzer's) checks
each buffer once: the last two arrays accepted (two, for double buffers)
are recognised by identity and not checked again, since NumPy arrays keep
their dtype and shape unless reassigned in place, which nothing in the
appliance does.
"""
from __future__ import annotations

import numpy as np


class ArrayContract:
    """What one array argument of a wrapper must be (module docstring)."""

    __slots__ = ("name", "dtype", "shape", "contiguous", "fix", "_ndim", "_fixed", "_last", "_before")

    def __init__(self, name: str, dtype, shape: tuple, fix: str, contiguous: bool = True):
        self.name = name
        self.dtype = np.dtype(dtype)
        self.shape = tuple(shape)
        self.contiguous = contiguous
        self.fix = fix
        self._ndim = len(self.shape)
        # the axes whose size is given, or the whole shape when every size is
        self._fixed = (self.shape if None not in self.shape
                       else tuple((axis, n) for axis, n in enumerate(self.shape) if n is not None))
        self._last = self._before = None

    def check(self, a) -> bool:
        """Return if `a` meets the contract, else raise ValueError naming the fix. Returns
        False for an array accepted just before (not checked again), else True."""
        if a is self._last or a is self._before:
            return False
        if not self._meets(a):
            raise ValueError(f"{self.name} must be {self.describe()}, got {describe(a)}: {self.fix}")
        self._before, self._last = self._last, a
        return True

    def _meets(self, a) -> bool:
        if type(a) is not np.ndarray and not isinstance(a, np.ndarray):
            return False
        if a.dtype != self.dtype or (self.contiguous and not a.flags.c_contiguous):
            return False
        shape = a.shape
        if self._fixed is self.shape:
            return shape == self.shape
        if len(shape) != self._ndim:
            return False
        for axis, n in self._fixed:
            if shape[axis] != n:
                return False
        return True

    def describe(self) -> str:
        shape = "(" + ", ".join("any" if n is None else str(n) for n in self.shape) + ("," if len(self.shape) == 1 else "") + ")"
        layout = "a C-contiguous " if self.contiguous else "a "
        return f"{layout}{self.dtype} array of shape {shape}"


def describe(a) -> str:
    """What an argument is, for an error message: dtype, shape and layout of an array."""
    if not isinstance(a, np.ndarray):
        return type(a).__name__
    return f"{a.dtype} {a.shape}" + ("" if a.flags.c_contiguous else " (not C-contiguous)")
