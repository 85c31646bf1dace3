"""What the paper reports, for comparison beside this project's own numbers.

Table II's settings are the defaults of :class:`~isac.physics.system.SystemConfig`; the
paper's other numbers that the project compares with are here.
"""

# Table I of the paper (ms per sample, their hardware), for side-by-side comparison.
PAPER_TABLE1_MS = {
    "n_tx": {4: 0.2330, 6: 0.2360, 8: 0.2404, 10: 0.2418, 12: 0.2422, 14: 0.2447, 16: 0.2457},
    "n_rx": {4: 0.1413, 6: 0.1572, 8: 0.1732, 10: 0.1943, 12: 0.2052, 14: 0.2206, 16: 0.2504},
    "n_users": {2: 0.1653, 3: 0.1897, 4: 0.2169, 5: 0.2504, 6: 0.2687, 7: 0.2812, 8: 0.2934},
}
