"""Learning the sensing powers, up to a trained checkpoint:

- :mod:`isac.learning.features`         -- the network input, eq. (29)
- :mod:`isac.learning.problem_batch`    -- what every network designs from: the problems as
  the BS sees them
- :mod:`isac.learning.networks`         -- the network contract, ISACNN, FC-NN, the Lambda head
- :mod:`isac.learning.price_network`    -- PriceNet: a price head and an exact water-filling layer
- :mod:`isac.learning.universal`        -- one PriceNet for every operating point
- :mod:`isac.learning.operating_points` -- operating points, their ranges, draws and grids
- :mod:`isac.learning.network_registry` -- every network under a key, built from plain options
- :mod:`isac.learning.data`             -- the LightningDataModule, synthesising data in-process
- :mod:`isac.learning.universal_data`   -- data over ranges of operating points
- :mod:`isac.learning.lit_module`       -- the LightningModule and loss (30)
- :mod:`isac.learning.loggers`          -- the training loggers under keys
- :mod:`isac.learning.checkpoints`      -- atomic checkpoint writes, safe and clear loading
- :mod:`isac.learning.upgrade`          -- the one upgrade path for runs of earlier versions
- :mod:`isac.learning.training`         -- one training run and its resume
"""
