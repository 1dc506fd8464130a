"""sb3_softac.PRESETS: each a method's paper settings, the same as the zoo yaml's anchors, and buildable."""

import gymnasium as gym
import pytest
import yaml

from sb3_softac import PRESETS, SoftAC
from sb3_softac.integrations.zoo.cli import default_config_path
from sb3_softac.layers import BatchRenorm, EnsembleLayerNorm

ZOO_PRESETS = yaml.safe_load(default_config_path().read_text())["presets"]


def test_presets_are_the_documented_ones_and_lookups_are_copies():
    assert list(PRESETS) == ["sac", "droq", "crossq", "sr_sac"]
    crossq = PRESETS["crossq"]
    crossq["policy_kwargs"]["batch_renorm"] = False
    assert PRESETS["crossq"]["policy_kwargs"]["batch_renorm"] is True, "a lookup cannot change the preset"
    with pytest.raises(KeyError) as error:
        PRESETS["redq"]
    assert "No SoftAC preset 'redq'. Presets: 'sac', 'droq', 'crossq', 'sr_sac'." in str(error.value)


@pytest.mark.parametrize("name", list(PRESETS))
def test_zoo_yaml_anchor_equals_the_preset(name):
    entry = dict(ZOO_PRESETS[name])
    if "policy_kwargs" in entry:
        entry["policy_kwargs"] = eval(entry["policy_kwargs"])  # the zoo evaluates this string the same way
    assert entry == PRESETS[name]


def test_presets_build_what_their_papers_describe():
    env = gym.make("Pendulum-v1")
    sac = SoftAC("MlpPolicy", env, buffer_size=100, **PRESETS["sac"])
    droq = SoftAC("MlpPolicy", env, buffer_size=100, **PRESETS["droq"])
    crossq = SoftAC("MlpPolicy", env, buffer_size=100, **PRESETS["crossq"])
    sr_sac = SoftAC("MlpPolicy", env, buffer_size=100, **PRESETS["sr_sac"])
    assert sac.policy_delay == 1 and sac.critic_target is not None and sac.reset_interval == 0
    assert (droq.gradient_steps, droq.policy_delay) == (20, 20)
    assert any(isinstance(m, EnsembleLayerNorm) for m in droq.critic.modules())
    assert crossq.critic_target is None and crossq.policy_delay == 3 and crossq.learning_rate == 1e-3
    assert crossq.critic.q_net[1].out_features == 2048 and crossq.actor.latent_pi[1].out_features == 256
    assert any(isinstance(m, BatchRenorm) for m in crossq.actor.modules())
    assert crossq.critic.optimizer.param_groups[0]["betas"] == (0.5, 0.999)
    assert (sr_sac.gradient_steps, sr_sac.reset_interval) == (32, 80_000)
    assert sr_sac.reset_interval * sr_sac.gradient_steps == 2_560_000, "SR-SAC: a reset every 2.56M updates"


@pytest.mark.parametrize("name", list(PRESETS))
def test_preset_entry_builds_the_zoo_way(name):
    """An entry that merges the anchor (``<<: *name``), read and built as RL-Zoo builds the shipped entries."""
    from rl_zoo3.exp_manager import ExperimentManager

    text = (
        default_config_path().read_text()
        + f"\nPendulum-v1-{name}:\n  <<: *{name}\n  policy: 'MlpPolicy'\n  n_timesteps: 1000\n"
    )
    hyperparams = dict(yaml.safe_load(text)[f"Pendulum-v1-{name}"])
    assert hyperparams.pop("n_timesteps") == 1000
    if isinstance(hyperparams.get("policy_kwargs"), str):
        hyperparams["policy_kwargs"] = eval(hyperparams["policy_kwargs"])
    hyperparams = ExperimentManager._preprocess_schedules(hyperparams)
    model = SoftAC(env=gym.make("Pendulum-v1"), buffer_size=100, **hyperparams)
    for key, value in PRESETS[name].items():
        if key == "learning_rate":  # the zoo makes a float learning rate a ConstantSchedule
            assert model.lr_schedule(1) == value
        elif key == "policy_kwargs":
            assert all(model.policy_kwargs[option] == setting for option, setting in value.items())
        else:
            assert getattr(model, key) == value
