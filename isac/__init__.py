"""Deep-learning design of uplink integrated sensing and communication.

Rooms, each importing only rooms below it (docs/layout.md; ``tests/test_layout.py``):

1. :mod:`isac.checks` and :mod:`isac.files` -- validation, and the files runs write
2. :mod:`isac.physics`     -- the system model and the transformed problem (plain torch);
   :mod:`isac.config`      -- the settings' defaults and their Hydra registration
3. :mod:`isac.schemes`     -- every non-learned design, registered once; the global optimum
4. :mod:`isac.learning`    -- networks, data, the LightningModule, training to a checkpoint
5. :mod:`isac.designer`    -- the design API and pipelines, from what a BS holds to S and W
6. :mod:`isac.experiments` -- evaluation, metrics.json, sweeps, figures and export

Above them, :mod:`isac.hydra_support` (what the entry points share) and the entry points.
"""

__version__ = "0.1.0"
