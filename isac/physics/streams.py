"""Random streams keyed to ``(seed, split)``: every draw of the project comes from one.

A stream is a CPU ``torch.Generator`` seeded from a hash of the seed and the stream's
name, so the same seed gives the same numbers on any machine, and streams of different
names (the data splits, the targets, the TR 38.901 pools' rows, the shuffles) never
share numbers.
"""

from __future__ import annotations

import hashlib

import torch


def split_generator(seed: int, split: str) -> torch.Generator:
    """A CPU generator keyed to ``(seed, split)``; different splits never share a stream."""
    digest = hashlib.sha256(f"isac:{int(seed)}:{split}".encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") >> 1)
