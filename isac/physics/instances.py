"""A dataclass whose fields are indexed by instance: ``to`` and ``[index]`` field by field."""

from __future__ import annotations

from dataclasses import fields
from typing import Self

import torch


class PerInstance:
    """Mixin for a dataclass whose fields are tensors [n, ...] (or themselves
    :class:`PerInstance`): ``to`` and indexing over the n instances apply to every field."""

    def to(self, *args, **kwargs) -> Self:
        """``torch.Tensor.to`` applied to every field."""
        return type(self)(
            **{f.name: getattr(self, f.name).to(*args, **kwargs) for f in fields(self)}
        )

    def __getitem__(self, index: torch.Tensor | slice) -> Self:
        return type(self)(**{f.name: getattr(self, f.name)[index] for f in fields(self)})
