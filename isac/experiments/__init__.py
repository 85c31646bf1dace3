"""Experiments on trained runs and sweeps (no solver or Lightning import at this level):

- :mod:`isac.experiments.runs`         -- a run directory: its files, atomic writes, safe reads
- :mod:`isac.experiments.designs`      -- every scheme as a timed design, from what the BS holds
- :mod:`isac.experiments.evaluation`   -- every scheme designed and scored on one test set
- :mod:`isac.experiments.evaluate_run` -- ``evaluate.py``'s work: table, JSON and export
- :mod:`isac.experiments.sweeps`       -- reading a finished multirun sweep
- :mod:`isac.experiments.figures`      -- the paper's figures from sweeps
"""
