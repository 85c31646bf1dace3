"""Property tier: random systems and random or extreme inputs through the design API, for
every registered scheme and every network. An accepted input gives a finite design within
the budget; a refused one a SettingsError of one line; nothing else (no NaN, no
traceback).

Seeded and bounded: the ``fast`` profile (``tests/conftest.py``) draws a few cases per
entry point in the default run; ``HYPOTHESIS_PROFILE=thorough pytest
tests/test_properties.py`` draws 2,000 (docs/results.md, "The property tier").
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from isac.checks import SettingsError
from isac.config import OptimConfig
from isac.designer import Designer
from isac.learning.lit_module import ISACModule
from isac.physics.receivers import Receiver
from isac.physics.system import SystemConfig
from isac.schemes.registry import SCHEMES

NETWORKS = {
    "isacnn": {"kind": "isacnn"},
    "fcnn": {"kind": "fcnn"},
    "pricenet": {"kind": "pricenet", "hidden": 8},
    "universal": {"kind": "universal", "hidden": 8},
}
ENTRY_POINTS = [f"scheme:{name}" for name in SCHEMES] + [f"network:{name}" for name in NETWORKS]


@st.composite
def systems(draw) -> tuple[SystemConfig, Receiver]:
    """A system of sizes 1-16 with up to 2 N_r users, SNRs in [-30, 60] dB, and a receiver."""
    n_tx = draw(st.integers(1, 16))
    n_rx = draw(st.integers(1, 16))
    system = SystemConfig(
        n_tx=n_tx,
        n_rx=n_rx,
        n_users=draw(st.integers(1, 2 * n_rx)),
        waveform_len=n_tx + draw(st.integers(1, 8)),
        alpha=draw(st.one_of(st.sampled_from([0.0, 1.0]), st.floats(0.0, 1.0))),
        snr_s_db=draw(st.floats(-30.0, 60.0)),
        snr_c_db=draw(st.floats(-30.0, 60.0)),
    )
    kind = draw(st.sampled_from(["genie", "naive", "robust"]))
    beta = draw(st.floats(0.01 if kind == "robust" else 0.0, 1.0))
    return system, Receiver(kind, beta)


@st.composite
def inputs(draw, system: SystemConfig):
    """(R_T, H_hat, p) of one sample or a batch, float32 or float64, at scales from 1e-30 to
    1e30, with zero users, zero channels, rank-deficient and zero R_T among them."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n = draw(st.sampled_from([None, 1, 3]))
    batch = () if n is None else (n,)
    double = draw(st.booleans())

    def scale() -> float:
        return 10.0 ** draw(st.sampled_from([-30, -12, -3, 0, 0, 3, 12, 30]))

    def gaussian(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) / np.sqrt(2)

    U = np.linalg.qr(gaussian(*batch, system.n_tx, system.n_tx))[0]
    eigenvalues = rng.uniform(size=(*batch, system.n_tx)) * scale()
    if draw(st.booleans()):  # rank-deficient, or no target at all
        eigenvalues[..., draw(st.integers(0, system.n_tx - 1)) :] = 0.0
    R_T = (U * eigenvalues[..., None, :]) @ U.conj().swapaxes(-2, -1)
    R_T = (R_T + R_T.conj().swapaxes(-2, -1)) / 2
    H = gaussian(*batch, system.n_rx, system.n_users) * scale()
    p = rng.uniform(0.1, 1.0, size=(*batch, system.n_users)) * scale()
    if draw(st.booleans()):  # a user the BS does not receive: no power, or no channel
        user = draw(st.integers(0, system.n_users - 1))
        (p if draw(st.booleans()) else H)[..., user] = 0.0
    if draw(st.booleans()):  # no user at all
        p[...] = 0.0
    complex_type, real_type = (np.complex128, np.float64) if double else (np.complex64, np.float32)
    return R_T.astype(complex_type), H.astype(complex_type), p.astype(real_type)


def designer_for(entry: str, system: SystemConfig, receiver: Receiver) -> Designer:
    """The design API for ``entry`` (a scheme, or an untrained network of the kind) at
    ``system``; raises SettingsError where it cannot serve it."""
    kind, name = entry.split(":")
    if kind == "scheme":
        return Designer.from_scheme(name, system, receiver)
    network = dict(NETWORKS[name])
    if name == "universal":  # ranges holding the drawn point
        point = {**system.to_dict(), "beta": receiver.beta}
        network["ranges"] = {
            key: [point[key], point[key]]
            for key in ("alpha", "snr_s_db", "snr_c_db", "beta", "n_users", "n_tx", "n_rx")
        }
    module = ISACModule(
        system.to_dict(),
        model={"name": name, "network": network},
        optim=OptimConfig().__dict__,
        run_config={"csi": {"receiver": receiver.kind, "beta": receiver.beta}},
    )
    return Designer.from_module(module)


def one_line(error: SettingsError) -> bool:
    return "\n" not in str(error) and len(str(error)) > 0


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@given(data=st.data())
def test_every_accepted_input_gives_a_finite_feasible_design_and_the_rest_one_line(entry, data):
    system, receiver = data.draw(systems())
    try:
        designer = designer_for(entry, system, receiver)
    except SettingsError as refused:  # e.g. zero-forcing with more users than antennas
        assert one_line(refused)
        return
    R_T, H, p = data.draw(inputs(system))
    try:
        with torch.no_grad():
            sigma_s, S, W = designer(R_T, H, p)
    except SettingsError as refused:
        assert one_line(refused)
        return
    for value in (sigma_s, S, W):
        assert torch.isfinite(value).all()
    sigma_s = sigma_s.double()
    assert (sigma_s >= 0).all()
    assert (sigma_s.sum(-1) <= system.sensing_power * (1 + 1e-5)).all()
