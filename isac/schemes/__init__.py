"""Designs of the sensing powers other than the learned ones, each scored like the network.

- :mod:`isac.schemes.registry`    -- every scheme, registered once (design, beams, label, reach)
- :mod:`isac.schemes.beams`       -- receive-beam rules: MMSE (25)/(32) and zero-forcing
- :mod:`isac.schemes.baselines`   -- average, zero power, interference-unaware water-filling
- :mod:`isac.schemes.zfbf`        -- zero-forcing beams with SIC (ref. [14])
- :mod:`isac.schemes.traditional` -- alternating optimisation with exact SCA steps
- :mod:`isac.schemes.solvers`     -- multi-level water-filling and the 1-D multiplier search
- :mod:`isac.schemes.optimum`     -- the global optimum of (28)

No module here imports Lightning.
"""
