"""Named settings of the SAC family: each the constructor arguments of one method's paper.

``SoftAC("MlpPolicy", env, **PRESETS["crossq"])``; add or override any argument after it, for
example ``SoftAC("MlpPolicy", env, **{**PRESETS["droq"], "gradient_steps": 2, "policy_delay": 2})``
for DroQ at a replay ratio a CPU affords (a preset's ``policy_kwargs`` is one value: to change one of
its entries, pass the whole dict). The same presets are YAML anchors under ``presets:`` in
``zoo_configs/softac.yml`` (``tests/test_presets.py`` checks that the two agree). The docs' page
"The SAC family" says what each does, when to use it and what it costs per environment step.
"""

import copy
from collections.abc import Iterator, Mapping
from typing import Any

_PRESETS: dict[str, dict[str, Any]] = {
    # SAC as SB3 ships it (Haarnoja et al. 2018b, arXiv 1812.05905): SoftAC's defaults.
    "sac": {},
    # DroQ (Hiraoka et al. 2022, arXiv 2110.02034, Sec. 3 and Appendix): dropout (0.01) and LayerNorm in
    # each critic hidden layer, 20 critic updates per environment step and, as in REDQ and DroQ's code,
    # one actor and temperature update per environment step (policy_delay = gradient_steps).
    "droq": dict(gradient_steps=20, policy_delay=20, policy_kwargs=dict(layer_norm=True, dropout_rate=0.01)),
    # CrossQ (Bhatt et al. 2024, arXiv 1902.05605, Sec. 4 and Table 2): no target networks, Batch
    # Renormalization in critics and actor (momentum 0.99 in flax's convention, 100k warm-up passes),
    # 2048-wide critics, Adam with beta1 = 0.5 and learning rate 1e-3, and a policy delay of 3.
    "crossq": dict(
        learning_rate=1e-3,
        policy_delay=3,
        target_networks=False,
        policy_kwargs=dict(
            net_arch=dict(pi=[256, 256], qf=[2048, 2048]),
            batch_renorm=True,
            batch_renorm_momentum=0.01,
            batch_renorm_warmup=100_000,
            optimizer_kwargs=dict(betas=(0.5, 0.999)),
        ),
    ),
    # SR-SAC (D'Oro et al. 2023, "Sample-Efficient Reinforcement Learning by Breaking the Replay Ratio
    # Barrier"): plain SAC at replay ratio 32 with every network, optimizer and the temperature reset
    # every 2.56M updates (80k environment steps at 32). At replay ratio N the paper resets every
    # 2_560_000 // N environment steps (its published curves: benchmarks/reference/sr_sac_dmc_eval.csv).
    "sr_sac": dict(gradient_steps=32, reset_interval=80_000),
}


class Presets(Mapping[str, dict[str, Any]]):
    """
    A read-only mapping from preset name to constructor arguments; each lookup returns a fresh copy,
    so a model (SB3 adds entries to the ``policy_kwargs`` it is given) cannot change the preset.

    :param presets: Preset name to keyword arguments of :class:`~sb3_softac.SoftAC`.
    """

    def __init__(self, presets: dict[str, dict[str, Any]]) -> None:
        self._presets = presets

    def __getitem__(self, name: str) -> dict[str, Any]:
        if name not in self._presets:
            raise KeyError(f"No SoftAC preset {name!r}. Presets: {', '.join(map(repr, self._presets))}.")
        return copy.deepcopy(self._presets[name])

    def __iter__(self) -> Iterator[str]:
        return iter(self._presets)

    def __len__(self) -> int:
        return len(self._presets)

    def __repr__(self) -> str:
        return f"Presets({self._presets!r})"


#: ``"sac"``, ``"droq"``, ``"crossq"``, ``"sr_sac"``: the constructor arguments of each method's paper.
PRESETS = Presets(_PRESETS)
