"""SB3's SAC and SoftAC side by side on every observation space, wrapper, buffer, keyword and callback SB3 supports.

Each case builds the same setup with both algorithms. Where SB3's SAC works, SoftAC must work and, during
the random warm-up (the same seeded random actions), store exactly the transitions SB3 stores. Where SB3
fails, the case says whether SoftAC shares the failure (then its error is an instance of SB3's type) or
fixes it (0-d ``Box`` entries), so an SB3 failure is told apart from one of ours.
"""

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from stable_baselines3 import SAC, HerReplayBuffer
from stable_baselines3.common.buffers import DictReplayBuffer, NStepReplayBuffer, ReplayBuffer
from stable_baselines3.common.callbacks import (
    CallbackList,
    CheckpointCallback,
    EvalCallback,
    EveryNTimesteps,
    StopTrainingOnMaxEpisodes,
    StopTrainingOnNoModelImprovement,
    StopTrainingOnRewardThreshold,
)
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.envs import BitFlippingEnv
from stable_baselines3.common.noise import NormalActionNoise, OrnsteinUhlenbeckActionNoise, VectorizedActionNoise
from stable_baselines3.common.vec_env import (
    DummyVecEnv,
    SubprocVecEnv,
    VecCheckNan,
    VecFrameStack,
    VecMonitor,
    VecNormalize,
)

from sb3_softac import SoftAC
from tests.conftest import fast
from tests.envs import SpaceEnv

WARMUP = 30
FAST = fast(learning_starts=WARMUP, buffer_size=200, batch_size=8, policy_kwargs=dict(net_arch=[8]))
STEPS = 60
Outcome = BaseException | None


def outcome(build: Callable[[type], Any], algo: type) -> tuple[Any, Outcome]:
    """``build(algo)`` and let it learn; the model, or the exception it raised."""
    try:
        model = build(algo)
        model.learn(STEPS)
        return model, None
    except Exception as error:
        return None, error


def stored(model: Any, name: str) -> dict[str, np.ndarray]:
    """One stored field of the warm-up transitions, per Dict key (``""`` for flat observations), flattened per transition."""
    buffer = model.replay_buffer
    values = getattr(buffer, name)
    values = values if isinstance(values, dict) else {"": values}
    count = WARMUP // buffer.n_envs
    return {key: value[:count].reshape(count, buffer.n_envs, -1) for key, value in values.items()}


def assert_same_transitions(sac: Any, softac: Any) -> None:
    """The seeded random warm-up actions are the same in both algorithms, so every stored transition is too."""
    for name in ("observations", "next_observations", "actions", "rewards", "dones"):
        if not hasattr(sac.replay_buffer, name):  # optimize_memory_usage keeps no next_observations
            continue
        ours, theirs = stored(softac, name), stored(sac, name)
        assert ours.keys() == theirs.keys(), name
        for key in ours:
            np.testing.assert_array_equal(ours[key], theirs[key], err_msg=f"{name}[{key!r}]")


def compare(build: Callable[[type], Any], expect: str) -> Any:
    """
    :param build: Makes the model (before learning) for an algorithm class.
    :param expect: ``"both"``: both work and store the same transitions; ``"shared"``: both fail, ours with an
        instance of SB3's exception type; ``"fixed"``: SB3 fails, SoftAC works.
    :return: SoftAC's trained model (``None`` for ``"shared"``).
    """
    sac, sac_error = outcome(build, SAC)
    softac, softac_error = outcome(build, SoftAC)
    if expect == "shared":
        assert sac_error is not None and softac_error is not None, (sac_error, softac_error)
        assert isinstance(softac_error, type(sac_error)), f"SB3: {sac_error!r}, SoftAC: {softac_error!r}"
        return None
    assert softac_error is None, f"SoftAC failed where SB3 {'worked' if sac_error is None else 'failed too'}: {softac_error!r}"
    if expect == "both":
        assert sac_error is None, f"SB3's SAC failed: {sac_error!r}"
        assert_same_transitions(sac, softac)
    else:
        assert sac_error is not None, "SB3's SAC works here now: the case is 'both'"
    assert softac._n_updates > 0
    obs = softac.env.reset()
    action, _ = softac.predict(obs, deterministic=True)
    assert action.shape == (softac.n_envs, *softac.action_space.shape)
    assert np.all(action >= softac.action_space.low) and np.all(action <= softac.action_space.high)
    return softac


BOX = spaces.Box(-1.0, 1.0, (3,), np.float32)
ENTRIES: dict[str, tuple[spaces.Space, str]] = {
    "box": (BOX, "both"),
    "box-2d": (spaces.Box(-1.0, 1.0, (3, 2), np.float32), "both"),
    "image": (spaces.Box(0, 255, (1, 36, 36), np.uint8), "both"),
    "discrete": (spaces.Discrete(4), "both"),
    "multi-discrete": (spaces.MultiDiscrete([2, 3]), "both"),
    "multi-binary": (spaces.MultiBinary(3), "both"),
    "multi-binary-2d": (spaces.MultiBinary([2, 2]), "both"),
    "box-0d": (spaces.Box(0.0, 100.0, (), np.float32), "fixed"),  # DMC walker's "height": SB3 cannot flatten it
    "nested-dict": (spaces.Dict({"x": BOX}), "shared"),  # NotImplementedError in both
    "discrete-with-start": (spaces.Discrete(4, start=2), "shared"),  # SB3 one-hot encodes without the start
}


def dict_space(entry: spaces.Space) -> spaces.Dict:
    return spaces.Dict({"vector": BOX, "entry": entry})


@pytest.mark.parametrize("n_envs", [1, 2])
@pytest.mark.parametrize("entry", list(ENTRIES))
def test_dict_entries(entry, n_envs):
    space, expect = ENTRIES[entry]
    model = compare(
        lambda algo: algo(
            "MultiInputPolicy", make_vec_env(lambda: SpaceEnv(dict_space(space)), n_envs=n_envs, seed=0), **FAST
        ),
        expect,
    )
    if model is not None:
        assert model.replay_buffer.n_envs == n_envs


def test_every_entry_kind_together_with_subprocesses():
    """All entry kinds in one Dict, two envs in subprocesses (the case the issue found broken)."""
    entries = {name: space for name, (space, expect) in ENTRIES.items() if expect != "shared"}
    space = spaces.Dict(entries)

    def build(algo):
        return algo(
            "MultiInputPolicy", make_vec_env(lambda: SpaceEnv(space), n_envs=2, seed=0, vec_env_cls=SubprocVecEnv), **FAST
        )

    compare(build, "fixed")  # SB3 fails on the 0-d entry
    without_0d = spaces.Dict({name: entry for name, entry in entries.items() if name != "box-0d"})
    compare(
        lambda algo: algo(
            "MultiInputPolicy", make_vec_env(lambda: SpaceEnv(without_0d), n_envs=2, seed=0, vec_env_cls=SubprocVecEnv), **FAST
        ),
        "both",
    )


TOP_LEVEL: dict[str, tuple[spaces.Space, str, str, dict]] = {
    "box": (BOX, "MlpPolicy", "both", {}),
    "box-2d": (spaces.Box(-1.0, 1.0, (3, 2), np.float32), "MlpPolicy", "both", {}),
    "discrete": (spaces.Discrete(4), "MlpPolicy", "both", {}),
    "multi-discrete": (spaces.MultiDiscrete([2, 3]), "MlpPolicy", "both", {}),
    "multi-binary": (spaces.MultiBinary(3), "MlpPolicy", "both", {}),
    "image-channel-last": (spaces.Box(0, 255, (36, 36, 3), np.uint8), "CnnPolicy", "both", {}),  # VecTransposeImage
    "float-image": (spaces.Box(0.0, 1.0, (3, 36, 36), np.float32), "CnnPolicy", "both", dict(normalize_images=False)),
    "box-0d": (spaces.Box(-1.0, 1.0, (), np.float32), "MlpPolicy", "shared", {}),
    "discrete-with-start": (spaces.Discrete(4, start=-1), "MlpPolicy", "shared", {}),
}


@pytest.mark.parametrize("name", list(TOP_LEVEL))
def test_observation_spaces(name):
    space, policy, expect, policy_kwargs = TOP_LEVEL[name]
    kwargs = {**FAST, "policy_kwargs": dict(net_arch=[8], **policy_kwargs)}
    compare(lambda algo: algo(policy, make_vec_env(lambda: SpaceEnv(space), n_envs=2, seed=0), **kwargs), expect)


def pendulum(n_envs: int = 1, **kwargs: Any) -> Any:
    return make_vec_env("Pendulum-v1", n_envs=n_envs, seed=0, **kwargs)


def dict_vec_env(n_envs: int = 2, zero_d: bool = True) -> Any:
    entries = {"vector": BOX, "discrete": spaces.Discrete(4), "image": ENTRIES["image"][0]}
    if zero_d:
        entries["height"] = ENTRIES["box-0d"][0]
    return make_vec_env(lambda: SpaceEnv(spaces.Dict(entries)), n_envs=n_envs, seed=0)


WRAPPERS: dict[str, tuple[Callable[[], Any], str, str]] = {
    "dummy-vec-env-2": (lambda: pendulum(2), "MlpPolicy", "both"),
    "subproc-vec-env-2": (lambda: pendulum(2, vec_env_cls=SubprocVecEnv), "MlpPolicy", "both"),
    "vec-normalize": (lambda: VecNormalize(pendulum(2)), "MlpPolicy", "both"),
    "vec-normalize-dict": (
        lambda: VecNormalize(dict_vec_env(zero_d=False), norm_obs_keys=["vector"]),
        "MultiInputPolicy",
        "both",
    ),
    "vec-normalize-dict-0d": (
        lambda: VecNormalize(dict_vec_env(), norm_obs_keys=["vector", "height"]),
        "MultiInputPolicy",
        "fixed",
    ),
    "vec-normalize-dict-discrete": (
        lambda: VecNormalize(dict_vec_env(zero_d=False)),
        "MultiInputPolicy",
        "shared",
    ),  # Box keys only
    "vec-frame-stack": (lambda: VecFrameStack(pendulum(2), 3), "MlpPolicy", "both"),
    "vec-frame-stack-image-dict": (
        lambda: VecFrameStack(
            make_vec_env(lambda: SpaceEnv(spaces.Dict({"vector": BOX, "image": ENTRIES["image"][0]})), n_envs=2, seed=0), 2
        ),
        "MultiInputPolicy",
        "both",
    ),
    "vec-monitor": (lambda: VecMonitor(DummyVecEnv([lambda: SpaceEnv(BOX)])), "MlpPolicy", "both"),
    "vec-check-nan": (lambda: VecCheckNan(pendulum(1), raise_exception=True), "MlpPolicy", "both"),
}


@pytest.mark.parametrize("name", list(WRAPPERS))
def test_vec_env_wrappers(name):
    make_env, policy, expect = WRAPPERS[name]
    model = compare(lambda algo: algo(policy, make_env(), **FAST), expect)
    if model is not None and isinstance(model.get_env(), VecNormalize):
        assert model._vec_normalize_env is model.get_env()


def bit_flipping(n_envs: int) -> Any:
    return make_vec_env(lambda: BitFlippingEnv(n_bits=4, continuous=True, max_steps=4), n_envs=n_envs, seed=0)


BUFFERS: dict[str, tuple[Callable[[type], Any], str]] = {
    **{
        f"her-{strategy}-{n_envs}-envs": (
            lambda algo, strategy=strategy, n_envs=n_envs: algo(
                "MultiInputPolicy",
                bit_flipping(n_envs),
                replay_buffer_class=HerReplayBuffer,
                replay_buffer_kwargs=dict(goal_selection_strategy=strategy, n_sampled_goal=2),
                **{**FAST, "policy_kwargs": dict(net_arch=[8], n_critics=2)},
            ),
            "both",
        )
        for strategy in ("future", "final", "episode")
        for n_envs in (1, 2)
    },
    "her-vec-normalize": (
        lambda algo: algo(
            "MultiInputPolicy",
            VecNormalize(bit_flipping(1), norm_obs_keys=["observation"]),
            replay_buffer_class=HerReplayBuffer,
            **FAST,
        ),
        "shared",  # MultiBinary entries: VecNormalize needs Box keys
    ),
    "optimize-memory-usage": (
        lambda algo: algo(
            "MlpPolicy",
            pendulum(2),
            optimize_memory_usage=True,
            replay_buffer_kwargs=dict(handle_timeout_termination=False),
            **FAST,
        ),
        "both",
    ),
    "optimize-memory-usage-dict": (
        lambda algo: algo("MultiInputPolicy", dict_vec_env(zero_d=False), optimize_memory_usage=True, **FAST),
        "shared",
    ),
    "n-steps": (lambda algo: algo("MlpPolicy", pendulum(1), n_steps=3, **FAST), "both"),
    "n-steps-2-envs": (lambda algo: algo("MlpPolicy", pendulum(2), n_steps=3, **FAST), "both"),
    "n-steps-dict": (lambda algo: algo("MultiInputPolicy", dict_vec_env(zero_d=False), n_steps=3, **FAST), "shared"),
    "n-steps-dict-0d": (lambda algo: algo("MultiInputPolicy", dict_vec_env(), n_steps=3, **FAST), "shared"),
    "n-steps-memory": (lambda algo: algo("MlpPolicy", pendulum(1), n_steps=3, optimize_memory_usage=True, **FAST), "shared"),
    "explicit-replay-buffer": (lambda algo: algo("MlpPolicy", pendulum(1), replay_buffer_class=ReplayBuffer, **FAST), "both"),
    "explicit-n-step-buffer": (
        lambda algo: algo(
            "MlpPolicy",
            pendulum(2),
            replay_buffer_class=NStepReplayBuffer,
            replay_buffer_kwargs=dict(n_steps=3, gamma=0.9),
            **FAST,
        ),
        "both",
    ),
    "explicit-dict-buffer": (
        lambda algo: algo("MultiInputPolicy", dict_vec_env(zero_d=False), replay_buffer_class=DictReplayBuffer, **FAST),
        "both",
    ),
    "no-timeout-handling": (
        lambda algo: algo("MlpPolicy", pendulum(1), replay_buffer_kwargs=dict(handle_timeout_termination=False), **FAST),
        "both",
    ),
}


@pytest.mark.parametrize("name", list(BUFFERS))
def test_replay_buffers(name):
    build, expect = BUFFERS[name]
    model = compare(build, expect)
    if model is not None and "n-step" in name:
        assert isinstance(model.replay_buffer, NStepReplayBuffer) and model.replay_buffer.sample(8).discounts is not None


KEYWORDS: dict[str, dict[str, Any]] = {
    "train-freq-episode": dict(train_freq=(1, "episode"), gradient_steps=-1),
    "train-freq-steps": dict(train_freq=(4, "step"), gradient_steps=2),
    "gradient-steps-0": dict(gradient_steps=0),
    "normal-noise": dict(action_noise=NormalActionNoise(np.zeros(1), 0.1 * np.ones(1))),
    "ou-noise": dict(action_noise=OrnsteinUhlenbeckActionNoise(np.zeros(1), 0.1 * np.ones(1))),
    "lr-schedule": dict(learning_rate=lambda progress: 1e-3 * progress),
    "gsde": dict(use_sde=True, sde_sample_freq=4),
    "gsde-at-warmup": dict(use_sde=True, use_sde_at_warmup=True),
    "ent-coef-string-number": dict(ent_coef="0.1"),
    "ent-coef-zero": dict(ent_coef=0.0),
    "target-entropy-string": dict(target_entropy="-2"),
    "tau-zero": dict(tau=0.0),
    "tau-one": dict(tau=1.0),
    "target-update-interval": dict(target_update_interval=3),
    "stats-window": dict(stats_window_size=5),
    "verbose-2": dict(verbose=2),
    "device-cpu": dict(device="cpu"),
    "policy-kwargs-full": dict(
        policy_kwargs=dict(
            net_arch=dict(pi=[8], qf=[8, 8]), activation_fn=th.nn.Tanh, n_critics=3, optimizer_kwargs=dict(eps=1e-5)
        )
    ),
}


@pytest.mark.parametrize("name", list(KEYWORDS))
def test_keywords(name):
    kwargs = {**FAST, **KEYWORDS[name]}
    if name == "gradient-steps-0":
        sac, softac = (algo("MlpPolicy", pendulum(1), **kwargs).learn(STEPS) for algo in (SAC, SoftAC))
        assert softac._n_updates == sac._n_updates == 0
        assert_same_transitions(sac, softac)
        return
    compare(lambda algo: algo("MlpPolicy", pendulum(1), **kwargs), "both")


def test_vectorized_action_noise_with_two_envs():
    noise = VectorizedActionNoise(NormalActionNoise(np.zeros(1), 0.1 * np.ones(1)), n_envs=2)
    compare(lambda algo: algo("MlpPolicy", pendulum(2), action_noise=noise, **FAST), "both")


def test_tau_zero_freezes_targets_but_copies_batch_norm_statistics():
    """tau=0 keeps the target weights; batch-norm running statistics are still copied (SB3's behaviour)."""
    from stable_baselines3.common.torch_layers import FlattenExtractor

    class BatchNormExtractor(FlattenExtractor):
        def __init__(self, observation_space):
            super().__init__(observation_space)
            self.norm = th.nn.BatchNorm1d(3)

        def forward(self, observations):
            return self.norm(super().forward(observations))

    kwargs = {**FAST, "tau": 0.0, "policy_kwargs": dict(net_arch=[8], features_extractor_class=BatchNormExtractor)}
    for algo in (SAC, SoftAC):
        model = algo("MlpPolicy", pendulum(1), **kwargs)
        weights = [p.clone() for p in model.critic_target.parameters()]
        model.learn(STEPS)
        assert all(th.equal(a, b) for a, b in zip(weights, model.critic_target.parameters())), algo.__name__
        assert th.equal(
            model.critic_target.features_extractor.norm.running_mean, model.critic.features_extractor.norm.running_mean
        )
        assert not th.equal(model.critic.features_extractor.norm.running_mean, th.zeros(3)), "the statistics moved"


def callbacks(folder: Any) -> list[Any]:
    eval_env = pendulum(1)
    return [
        EvalCallback(eval_env, eval_freq=20, n_eval_episodes=1, log_path=str(folder), best_model_save_path=str(folder)),
        CheckpointCallback(save_freq=25, save_path=str(folder), name_prefix="model", save_replay_buffer=True),
        EveryNTimesteps(n_steps=15, callback=CheckpointCallback(save_freq=1, save_path=str(folder / "every"))),
    ]


def test_callbacks_fire_at_the_same_steps(tmp_path):
    """Evaluations, checkpoints and their files, EveryNTimesteps: the same steps and names for both algorithms."""
    results = {}
    for algo in (SAC, SoftAC):
        folder = tmp_path / algo.__name__
        folder.mkdir()
        chain = callbacks(folder)
        algo("MlpPolicy", pendulum(1), **FAST).learn(STEPS, callback=CallbackList(chain))
        files = sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file())
        results[algo] = (list(chain[0].evaluations_timesteps), files)
    assert results[SAC] == results[SoftAC]
    assert results[SoftAC][0] == [20, 40, 60] and "model_replay_buffer_50_steps.pkl" in results[SoftAC][1]
    for path in (tmp_path / "SoftAC").glob("model_*_steps.zip"):
        SoftAC.load(path)


@pytest.mark.parametrize(
    "make_callback",
    [
        lambda: StopTrainingOnMaxEpisodes(max_episodes=2),
        lambda: EvalCallback(
            pendulum(1),
            eval_freq=20,
            n_eval_episodes=1,
            callback_on_new_best=StopTrainingOnRewardThreshold(reward_threshold=-1e4),
        ),
        lambda: EvalCallback(
            pendulum(1), eval_freq=20, n_eval_episodes=1, callback_after_eval=StopTrainingOnNoModelImprovement(1, min_evals=1)
        ),
        lambda: lambda local_vars, global_vars: local_vars["self"].num_timesteps < 45,  # a function: SB3's ConvertCallback
    ],
    ids=["max-episodes", "reward-threshold", "no-improvement", "function"],
)
def test_stopping_callbacks_stop_at_the_same_step(make_callback):
    stops = []
    for algo in (SAC, SoftAC):
        model = algo("MlpPolicy", pendulum(1), **{**FAST, "buffer_size": 1000})
        model.learn(600, callback=make_callback())
        stops.append(model.num_timesteps)
    assert stops[0] == stops[1] < 600


def test_progress_bar_and_log_interval(capsys):
    """verbose=1 with log_interval=1 prints SB3's table once per episode, also under a progress bar."""
    for algo in (SAC, SoftAC):
        algo("MlpPolicy", pendulum(1), **{**FAST, "verbose": 1}).learn(410, progress_bar=True, log_interval=1)
    printed = capsys.readouterr().out
    assert printed.count("time_elapsed") == 4, printed[-2000:]  # two 200-step episodes each
    assert printed.count("ent_coef_loss") == 4


def test_unbuilt_model_then_setup():
    """``_init_setup_model=False`` then ``_setup_model()``, as SB3's load does."""
    for algo in (SAC, SoftAC):
        model = algo("MlpPolicy", "Pendulum-v1", **FAST, _init_setup_model=False)
        assert getattr(model, "policy", None) is None
        model._setup_model()
        model.learn(STEPS)
