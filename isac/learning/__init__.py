"""Learning the sensing powers:

- :mod:`isac.learning.features`    -- the network input, eq. (29)
- :mod:`isac.learning.networks`    -- ISACNN, FC-NN and the Lambda head
- :mod:`isac.learning.price_network` -- PriceNet: a price head and an exact water-filling layer
- :mod:`isac.learning.numpy_network` -- a trained network as a numpy program for one sample
- :mod:`isac.learning.pipeline`    -- EVD, features, network and recovery as one design
- :mod:`isac.learning.data`        -- the LightningDataModule, synthesising data in-process
- :mod:`isac.learning.lit_module`  -- the LightningModule and loss (30)
- :mod:`isac.learning.checkpoints` -- atomic checkpoint writes, safe and clear loading
- :mod:`isac.learning.training`    -- one training run, its resume and its metrics.json
"""
