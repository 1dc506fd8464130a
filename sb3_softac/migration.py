"""SB3 SAC models into SoftAC: the critics' weights and optimizer states in the ensemble layout.

SB3's SAC keeps ``n_critics`` separate MLPs (``critic.qf0``, ``critic.qf1``, ...; ``nn.Linear`` weights
of shape (out, in)); SoftAC keeps one batched ensemble (``critic.q_net``: weights (n, in, out), biases
(n, 1, out)). Everything else (actor, features extractors, temperature, hyperparameters) has the same
names and shapes in both, so converting a zip is a relabelling of the critic tensors, exact to the bit.
``SoftAC.load`` and ``SoftAC.set_parameters`` apply it to SB3 SAC zips.
"""

import re
from typing import Any

import torch as th
from torch import nn

# SB3's SAC policy classes (as the zip's JSON names them) and SoftAC's policy for each.
SB3_SAC_POLICIES = {
    "stable_baselines3.sac.policies.SACPolicy": "MlpPolicy",
    "stable_baselines3.sac.policies.CnnPolicy": "CnnPolicy",
    "stable_baselines3.sac.policies.MultiInputPolicy": "MultiInputPolicy",
}
# Attributes of SB3's SAC saved in its zips that SoftAC does not have (its own are ``_norm_stats``).
SB3_ONLY_ATTRIBUTES = ("batch_norm_stats", "batch_norm_stats_target")
# Optimizer group settings that say how an optimizer runs, not what it computes: SoftAC keeps its own.
_IMPLEMENTATION_FLAGS = ("fused", "foreach", "capturable", "differentiable")
_SB3_CRITIC_KEY = re.compile(r"^(?P<network>critic|critic_target)\.qf(?P<member>\d+)\.(?P<layer>\d+)\.(?P<kind>weight|bias)$")


def is_sb3_sac_state(policy_state: dict[str, Any]) -> bool:
    """
    :param policy_state: A policy state dict.
    :return: Whether it has SB3 SAC's separate critics (``critic.qf0. ...``).
    """
    return any(_SB3_CRITIC_KEY.match(key) for key in policy_state)


def ensemble_policy_state(policy_state: dict[str, th.Tensor]) -> dict[str, th.Tensor]:
    """
    :param policy_state: The state dict of an SB3 SAC policy.
    :return: The same tensors as a SoftAC policy state dict: each critic layer's ``n_critics`` weights
        (out, in) stacked as (n, in, out), biases (out,) as (n, 1, out); other entries unchanged.
    """
    converted: dict[str, th.Tensor] = {}
    members: dict[str, list[tuple[int, th.Tensor]]] = {}
    for key, value in policy_state.items():
        match = _SB3_CRITIC_KEY.match(key)
        if match is None:
            converted[key] = value
            continue
        name = f"{match['network']}.q_net.{match['layer']}.{match['kind']}"
        if name not in members:
            members[name] = []
            converted[name] = value  # placeholder: keeps SB3's key order
        members[name].append((int(match["member"]), _member_layout(value, name)))
    for name, tensors in members.items():
        converted[name] = th.stack([tensor for _, tensor in sorted(tensors, key=lambda item: item[0])])
    return converted


def _with_own_flags(saved: dict[str, Any], optimizer: th.optim.Optimizer) -> dict[str, Any]:
    """An optimizer state dict whose groups keep ``optimizer``'s implementation flags (SoftAC's fused Adam)."""
    groups = []
    for saved_group, own_group in zip(saved["param_groups"], optimizer.param_groups):
        flags = {flag: own_group[flag] for flag in _IMPLEMENTATION_FLAGS if flag in own_group}
        groups.append({**saved_group, **flags})
    return {**saved, "param_groups": groups}


def ensemble_critic_optimizer_state(saved: dict[str, Any], critic: nn.Module, optimizer: th.optim.Optimizer) -> dict[str, Any]:
    """
    Rearrange an SB3 SAC critic optimizer's per-parameter state for SoftAC's critic ensemble.

    SB3 optimizes the critic's features extractor parameters (unless shared) and then every member's
    MLP parameters in turn; SoftAC the same extractor parameters and then each ensemble layer once.
    Tensors shaped like a parameter (Adam's moments) are stacked like the parameter; scalars (the
    step count, the same for every member) are taken from the first member.

    :param saved: ``critic.optimizer.state_dict()`` of an SB3 SAC model.
    :param critic: SoftAC's critic ensemble (built with the same architecture).
    :param optimizer: Its optimizer.
    :return: A state dict for ``optimizer.load_state_dict``.
    """
    names = {id(param): name for name, param in critic.named_parameters()}
    own_names = [names[id(param)] for group in optimizer.param_groups for param in group["params"]]
    extractor = [name for name in own_names if not name.startswith("q_net.")]
    ensemble = [name for name in own_names if name.startswith("q_net.")]
    n_critics: int = critic.n_critics  # type: ignore[assignment]
    expected = len(extractor) + n_critics * len(ensemble)
    saved_count = sum(len(group["params"]) for group in saved["param_groups"])
    if saved_count != expected:
        raise ValueError(
            f"The SB3 critic optimizer holds {saved_count} parameters, but this critic needs {expected} "
            f"({len(extractor)} extractor + {n_critics} critics x {len(ensemble)}): the architectures differ."
        )
    state = {}
    for index, name in enumerate(own_names):
        if name in extractor:
            if extractor.index(name) in saved["state"]:
                state[index] = saved["state"][extractor.index(name)]
            continue
        position = len(extractor) + ensemble.index(name)
        sources = [saved["state"].get(position + member * len(ensemble)) for member in range(n_critics)]
        if any(source is None for source in sources):
            continue  # no step taken yet
        state[index] = {key: _stack_members([source[key] for source in sources], name) for key in sources[0]}
    groups = [{**saved["param_groups"][0], "params": list(range(len(own_names)))}]
    return _with_own_flags({"state": state, "param_groups": groups}, optimizer)


def _stack_members(values: list[Any], name: str) -> Any:
    """One state entry of every member as the ensemble's entry (see :func:`ensemble_critic_optimizer_state`)."""
    first = values[0]
    if not isinstance(first, th.Tensor) or first.dim() == 0:
        return first
    return th.stack([_member_layout(value, name) for value in values])


def _member_layout(tensor: th.Tensor, name: str) -> th.Tensor:
    """One SB3 critic's weight (out, in) as an ensemble member's (in, out), its bias (out,) as (1, out)."""
    return tensor.transpose(0, 1) if name.endswith("weight") else tensor.reshape(1, -1)


def softac_parameters(params: dict[str, Any], model: Any) -> dict[str, Any]:
    """
    :param params: The ``params`` of an SB3 SAC zip (``policy``, ``actor.optimizer``, ``critic.optimizer``,
        ``ent_coef_optimizer``), as ``load_from_zip_file`` returns them.
    :param model: The SoftAC model they are loaded into.
    :return: The same parameters in SoftAC's layout, for ``set_parameters``.
    """
    converted = dict(params)
    converted["policy"] = ensemble_policy_state(params["policy"])
    if "critic.optimizer" in params:
        converted["critic.optimizer"] = ensemble_critic_optimizer_state(
            params["critic.optimizer"], model.critic, model.critic.optimizer
        )
    if "actor.optimizer" in params:
        converted["actor.optimizer"] = _with_own_flags(params["actor.optimizer"], model.actor.optimizer)
    if "ent_coef_optimizer" in params and model.ent_coef_optimizer is not None:
        converted["ent_coef_optimizer"] = _with_own_flags(params["ent_coef_optimizer"], model.ent_coef_optimizer)
    return converted
