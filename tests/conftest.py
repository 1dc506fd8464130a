"""Shared test settings.

``FAST`` is the small configuration most tests train with (tiny networks and buffers, an early start),
and :func:`fast` derives variants of it. Tests marked ``slow`` (subprocesses, learning runs) are left
out of the quick loop ``python -m pytest -m "not slow" -q``; CI runs everything.
"""

import os
from typing import Any

import torch as th

from sb3_softac.integrations.dmc import configure_headless_rendering

# Some test modules import dm_control directly, before any env is built: render through EGL (no display).
configure_headless_rendering()

if os.environ.get("PYTEST_XDIST_WORKER"):
    # Under pytest-xdist each worker (and each subprocess it starts) gets one torch thread, so that
    # n workers on n cores do not oversubscribe them with n x n threads.
    os.environ["OMP_NUM_THREADS"] = "1"
    th.set_num_threads(1)

#: Tiny networks and buffers, learning after 50 steps, seeded.
FAST: dict[str, Any] = dict(learning_starts=50, buffer_size=1000, batch_size=32, policy_kwargs=dict(net_arch=[16, 16]), seed=0)


def fast(**changes: Any) -> dict[str, Any]:
    """
    :param changes: Settings to change; ``policy_kwargs`` entries are merged into FAST's, and a ``None``
        value removes the setting (for example ``seed=None`` for a test that passes its own seed).
    :return: A fresh copy of :data:`FAST` with the changes.
    """
    policy_kwargs = changes.pop("policy_kwargs", {})
    settings = {**FAST, **changes}
    settings["policy_kwargs"] = None if policy_kwargs is None else {**FAST["policy_kwargs"], **policy_kwargs}
    return {key: value for key, value in settings.items() if value is not None}
