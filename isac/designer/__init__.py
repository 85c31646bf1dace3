"""The design room: from what a base station holds to its waveform and beams.

- :mod:`isac.designer.api`           -- the design API, :class:`Designer`, for a trained
  network or a registered scheme, one sample or a batch
- :mod:`isac.designer.pipelines`     -- the network's design, batched in torch or one sample
  in numpy, through the same physics
- :mod:`isac.designer.numpy_program` -- a trained network compiled to numpy for one sample
- :mod:`isac.designer.timed`         -- every scheme and network as a timed design

It sits above :mod:`isac.learning` and below :mod:`isac.experiments` (docs/layout.md).
"""

from isac.designer.api import Designer, DesignOutput

__all__ = ["DesignOutput", "Designer"]
