"""Experiments on trained runs and sweeps, the top room of the package (docs/layout.md):

- :mod:`isac.experiments.comparison`        -- every scheme designed and scored on one test set
- :mod:`isac.experiments.run_evaluation`    -- ``evaluate.py``'s work: table, JSON and export
- :mod:`isac.experiments.run_metrics`       -- ``metrics.json``: its one builder and its scores
- :mod:`isac.experiments.training_job`      -- ``train.py``'s work: train, score, write
- :mod:`isac.experiments.universal_scoring` -- a universal network scored at a sweep's point
- :mod:`isac.experiments.export`            -- a trained network as ONNX with its metadata
- :mod:`isac.experiments.sweeps`            -- reading a finished multirun sweep
- :mod:`isac.experiments.figures`           -- the paper's figures from sweeps
- :mod:`isac.experiments.paper_numbers`     -- what the paper reports, for comparison
"""
