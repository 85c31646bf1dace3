"""A dataclass whose fields are indexed by instance: ``to`` and ``[index]`` field by field."""

from __future__ import annotations

from dataclasses import fields
from typing import Self

import torch

COMPLEX_OF = {torch.float32: torch.complex64, torch.float64: torch.complex128}
"""The complex dtype of each real precision."""


def _for_complex(value: object) -> object:
    """A real precision as its complex one (a device or anything else unchanged)."""
    return COMPLEX_OF.get(value, value) if isinstance(value, torch.dtype) else value


class PerInstance:
    """Mixin for a dataclass whose fields are tensors [n, ...] (or themselves
    :class:`PerInstance`): ``to`` and indexing over the n instances apply to every field.

    ``to(dtype)`` with a real dtype gives complex fields the complex dtype of that
    precision, so a cast never drops an imaginary part."""

    def to(self, *args, **kwargs) -> Self:
        """``torch.Tensor.to`` applied to every field."""

        def move(value):
            if isinstance(value, torch.Tensor) and value.is_complex():
                return value.to(
                    *(_for_complex(a) for a in args),
                    **{k: _for_complex(v) for k, v in kwargs.items()},
                )
            return value.to(*args, **kwargs)

        return type(self)(**{f.name: move(getattr(self, f.name)) for f in fields(self)})

    def __getitem__(self, index: torch.Tensor | slice) -> Self:
        return type(self)(**{f.name: getattr(self, f.name)[index] for f in fields(self)})
