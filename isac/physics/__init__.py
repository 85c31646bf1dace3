"""The physics and maths of the paper, in plain torch (no Lightning):

- :mod:`isac.physics.system`       -- the system settings (Table II) and their validation
- :mod:`isac.physics.pathloss`     -- the path-loss model of Sec. V and the noise-normalised units
- :mod:`isac.physics.scenario`     -- seeded sampling of channels, imperfect CSI and R_T
- :mod:`isac.physics.waterfilling` -- exact water-filling, used by M_s, eq. (39)
- :mod:`isac.physics.rates`        -- sigma_h, rates (14) and (26), M_s (39), M_c (40), WSNR (28)
- :mod:`isac.physics.problem`      -- per-sample precomputed terms that make (28) cheap to evaluate
- :mod:`isac.physics.receivers`    -- genie, naive and robust receivers under imperfect CSI
- :mod:`isac.physics.recover`      -- the recover module, eqs. (31)-(32)
- :mod:`isac.physics.original_model` -- the untransformed model, eqs. (4)-(9a), the test reference
"""
