"""Deep-learning design of uplink integrated sensing and communication.

The physics and maths of the paper live in plain-torch modules:

- :mod:`isac.system`       -- the system settings (Table II) and their validation
- :mod:`isac.pathloss`     -- the path-loss model of Sec. V and the noise-normalised units
- :mod:`isac.scenario`     -- seeded sampling of channels, imperfect CSI and R_T
- :mod:`isac.waterfilling` -- exact water-filling, used by M_s, eq. (39)
- :mod:`isac.rates`        -- sigma_h, the rates (14) and (26), M_s (39), M_c (40), WSNR (28)
- :mod:`isac.problem`      -- per-sample precomputed terms that make (28) cheap to evaluate
- :mod:`isac.recover`      -- the recover module, eqs. (31)-(32)
- :mod:`isac.original_model` -- the untransformed model, eqs. (4)-(9a), as an independent check

Learning: :mod:`isac.networks` (ISACNN, FC-NN, the Lambda layer), :mod:`isac.data`
(the LightningDataModule), :mod:`isac.lit_module` (loss (30)), :mod:`isac.training`.

Schemes and scoring: :mod:`isac.baselines`, :mod:`isac.zfbf`, :mod:`isac.traditional`,
:mod:`isac.solvers` (multi-level water-filling, multiplier search), :mod:`isac.optimum`,
:mod:`isac.evaluation`, :mod:`isac.evaluate_run`.
"""

__version__ = "0.1.0"
