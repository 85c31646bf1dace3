"""Deep-learning design of uplink integrated sensing and communication.

Four subpackages, by domain (docs/model.md maps the paper's equations onto them):

- :mod:`isac.physics`     -- the system model and the transformed problem (plain torch)
- :mod:`isac.schemes`     -- every non-learned design, registered once; the global optimum
- :mod:`isac.learning`    -- networks, data, the LightningModule, training runs
- :mod:`isac.experiments` -- evaluation, run directories, sweeps and figures

Beside them: :mod:`isac.config` (every default, registered with Hydra),
:mod:`isac.checks` (validation with messages that name the setting) and
:mod:`isac.hydra_support` (what the entry points share).
"""

__version__ = "0.1.0"
