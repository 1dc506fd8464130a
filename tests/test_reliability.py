"""Reliability: resume after SIGKILL/SIGINT, non-finite values, corrupt or foreign files, property-based checks."""

import io
import math
import os
import re
import signal
import subprocess
import sys
import time
import warnings
import zipfile
from pathlib import Path
from unittest import mock

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from hypothesis import given, settings
from hypothesis import strategies as st

from sb3_softac import SoftAC
from sb3_softac.checkpoints import load_policy_weights
from sb3_softac.policies import tanh_log_det_jacobian
from sb3_softac.softac import NonFiniteError
from tests.conftest import FAST
from tests.envs import ContinuousDictEnv

REPO = Path(__file__).resolve().parents[1]
ZOO = [
    "--algo",
    "softac",
    "--env",
    "Pendulum-v1",
    "-f",
    "logs",
    "--save-replay-buffer",
    "-params",
    "learning_starts:100",
    "buffer_size:5000",
    "policy_kwargs:dict(net_arch=[32, 32])",
]


def default_sigint() -> None:
    """In the child: SIGINT as in a foreground terminal, even when the tests run as a background job (which ignores it)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def zoo_train(cwd: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.Popen(
        [sys.executable, str(REPO / "train.py"), *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=default_sigint,
    )


def wait_for(path: Path, process: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, f"training ended before {path.name} appeared:\n{process.stdout.read()[-3000:]}"
        assert time.monotonic() < deadline, f"{path.name} did not appear within {timeout} s"
        time.sleep(0.2)
    time.sleep(0.5)  # let the writer finish the file


def loaded(model_path: Path, buffer_path: Path) -> SoftAC:
    model = SoftAC.load(model_path)
    model.load_replay_buffer(buffer_path)
    return model


def adam_steps(model: SoftAC) -> int:
    return int(next(iter(model.actor.optimizer.state_dict()["state"].values()))["step"])


def assert_resumed_from(resumed: SoftAC, checkpoint: SoftAC, total: int) -> None:
    """The resumed run continued the checkpoint's timesteps, updates, optimizer, temperature and buffer."""
    new_steps = total - checkpoint.num_timesteps
    assert resumed.num_timesteps == total
    assert resumed._n_updates == checkpoint._n_updates + new_steps
    assert adam_steps(resumed) == adam_steps(checkpoint) + new_steps
    assert resumed.replay_buffer.size() == checkpoint.replay_buffer.size() + new_steps
    stored = checkpoint.replay_buffer.size()
    for name in ("observations", "actions", "rewards"):
        np.testing.assert_array_equal(
            getattr(resumed.replay_buffer, name)[:stored], getattr(checkpoint.replay_buffer, name)[:stored]
        )
    assert resumed.log_ent_coef.item() != checkpoint.log_ent_coef.item()  # kept learning from the saved value


@pytest.mark.slow
def test_resume_after_sigkill(tmp_path):
    run_dir = tmp_path / "logs" / "softac" / "Pendulum-v1_1"
    process = zoo_train(tmp_path, *ZOO, "-n", "5000", "--save-freq", "200", "--seed", "0")
    wait_for(run_dir / "rl_model_replay_buffer_400_steps.pkl", process)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert not (run_dir / "Pendulum-v1.zip").exists(), "a killed run saves nothing at exit"

    resume = zoo_train(tmp_path, *ZOO, "-n", "700", "--seed", "1", "-i", str(run_dir / "rl_model_400_steps.zip"))
    out, _ = resume.communicate(timeout=600)
    assert resume.returncode == 0, out[-3000:]
    assert "Loading the checkpoint's replay buffer" in out and "Resuming at timestep 400 of 700" in out
    resumed_dir = tmp_path / "logs" / "softac" / "Pendulum-v1_2"
    checkpoint = loaded(run_dir / "rl_model_400_steps.zip", run_dir / "rl_model_replay_buffer_400_steps.pkl")
    assert_resumed_from(loaded(resumed_dir / "Pendulum-v1.zip", resumed_dir / "replay_buffer.pkl"), checkpoint, total=700)


@pytest.mark.slow
def test_resume_after_sigint(tmp_path):
    run_dir = tmp_path / "logs" / "softac" / "Pendulum-v1_1"
    process = zoo_train(tmp_path, *ZOO, "-n", "100000", "--save-freq", "200", "--seed", "0")
    wait_for(run_dir / "rl_model_replay_buffer_200_steps.pkl", process)
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=120)
    assert process.returncode == 0, out[-3000:]  # rl_zoo3 catches the interrupt and saves
    interrupted = loaded(run_dir / "Pendulum-v1.zip", run_dir / "replay_buffer.pkl")
    assert 200 <= interrupted.num_timesteps < 100000

    total = interrupted.num_timesteps + 150
    resume = zoo_train(tmp_path, *ZOO, "-n", str(total), "--seed", "1", "-i", str(run_dir / "Pendulum-v1.zip"))
    out, _ = resume.communicate(timeout=600)
    assert resume.returncode == 0, out[-3000:]
    resumed_dir = tmp_path / "logs" / "softac" / "Pendulum-v1_2"
    assert_resumed_from(loaded(resumed_dir / "Pendulum-v1.zip", resumed_dir / "replay_buffer.pkl"), interrupted, total=total)


class Poison(gym.Wrapper):
    """Return a NaN/inf in one quantity at one step."""

    def __init__(self, env: gym.Env, quantity: str, at_step: int) -> None:
        super().__init__(env)
        self.quantity, self.at_step, self.steps = quantity, at_step, 0

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.steps += 1
        if self.steps == self.at_step:
            if self.quantity == "reward":
                reward = math.nan
            elif isinstance(obs, dict):
                obs = {**obs, "height": np.asarray(np.inf, dtype=np.float32)}
            else:
                obs = np.full_like(obs, np.nan)
        return obs, reward, terminated, truncated, info


@pytest.mark.parametrize(
    "env, policy, quantity, expected",
    [
        (lambda: Poison(gym.make("Pendulum-v1"), "reward", 57), "MlpPolicy", "reward", "non-finite reward"),
        (lambda: Poison(gym.make("Pendulum-v1"), "obs", 57), "MlpPolicy", "obs", "non-finite observation"),
        (
            lambda: Poison(ContinuousDictEnv(max_steps=100), "obs", 57),
            "MultiInputPolicy",
            "obs",
            "non-finite observation['height']",
        ),
    ],
    ids=["reward", "observation", "dict-entry"],
)
def test_non_finite_env_values_stop_training(env, policy, quantity, expected):
    model = SoftAC(policy, env(), **FAST)
    with pytest.raises(NonFiniteError, match=rf"timestep 57 gave a {re.escape(expected)}"):
        model.learn(200)
    assert model.replay_buffer.size() == 56, "the bad transition was not stored"


def test_check_finite_opt_out():
    model = SoftAC(
        "MlpPolicy", Poison(gym.make("Pendulum-v1"), "reward", 10), **{**FAST, "learning_starts": 500}, check_finite=False
    )
    model.learn(60)
    assert np.isnan(model.replay_buffer.rewards[9]).all()


def test_diverging_loss_stops_and_keeps_saved_model(tmp_path):
    model = SoftAC("MlpPolicy", "Pendulum-v1", **FAST)
    model.learn(100)
    model.save(tmp_path / "good.zip")
    good_bytes = (tmp_path / "good.zip").read_bytes()
    with th.no_grad():
        model.critic.q_net[0].weight.fill_(math.inf)  # a blown-up critic
    with pytest.raises(NonFiniteError, match=r"(critic_loss|actor_loss|q_mean) became nan at step 1\d\d"):
        model.learn(50, reset_num_timesteps=False)
    with pytest.raises(NonFiniteError, match="Refusing to save"):
        model.save(tmp_path / "good.zip")
    assert (tmp_path / "good.zip").read_bytes() == good_bytes


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("models") / "softac.zip"
    model = SoftAC("MlpPolicy", "Pendulum-v1", **FAST)
    model.learn(100)
    model.save(path)
    return path


def test_truncated_and_corrupt_zips(saved, tmp_path):
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(saved.read_bytes()[:2000])
    garbage = tmp_path / "garbage.zip"
    garbage.write_bytes(os.urandom(5000))
    for path in (truncated, garbage):
        with pytest.raises(ValueError, match=r"is not a readable model zip \(truncated or corrupt\?\)"):
            SoftAC.load(path)
    other_zip = tmp_path / "other.zip"
    with zipfile.ZipFile(other_zip, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(ValueError, match="is a zip but not an SB3 model"):
        SoftAC.load(other_zip)
    with pytest.raises(FileNotFoundError):
        SoftAC.load(tmp_path / "missing.zip")


def test_zip_from_another_algorithm(tmp_path):
    """A PPO zip is refused with the algorithm named (SB3 SAC zips load: tests/test_migration.py)."""
    from stable_baselines3 import PPO

    PPO("MlpPolicy", "Pendulum-v1", n_steps=64).save(tmp_path / "ppo.zip")
    pattern = (
        r"was saved by neither SoftAC nor SB3's SAC: its policy is stable_baselines3\.common\.policies\.ActorCriticPolicy"
    )
    with pytest.raises(ValueError, match=pattern):
        SoftAC.load(tmp_path / "ppo.zip")
    with pytest.raises(ValueError, match=pattern):
        load_policy_weights(SoftAC("MlpPolicy", "Pendulum-v1", **FAST), tmp_path / "ppo.zip")


def test_spaces_mismatch(saved):
    with pytest.raises(ValueError, match="Observation spaces do not match"):
        SoftAC.load(saved, env=gym.make("MountainCarContinuous-v0"))


def test_weights_only_load(saved, tmp_path):
    original = SoftAC.load(saved)
    fresh = SoftAC("MlpPolicy", "Pendulum-v1", **{**FAST, "seed": 5})
    load_policy_weights(fresh, saved)
    obs = np.random.default_rng(0).uniform(-1, 1, (8, 3)).astype(np.float32)
    assert np.array_equal(fresh.predict(obs, deterministic=True)[0], original.predict(obs, deterministic=True)[0])

    # A zip whose pickled parts are hostile: load_policy_weights never unpickles them...
    hostile = tmp_path / "hostile.zip"
    with zipfile.ZipFile(saved) as source, zipfile.ZipFile(hostile, "w") as target:
        for name in source.namelist():
            target.writestr(name, b"not json, not a pickle" if name == "data" else source.read(name))
    load_policy_weights(fresh, hostile)

    # ...and torch.load(weights_only=True) refuses a policy.pth that would run code.
    class Exploit:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    buffer = io.BytesIO()
    th.save({"critic.q_net.0.weight": Exploit()}, buffer)
    with zipfile.ZipFile(saved) as source, zipfile.ZipFile(hostile, "w") as target:
        for name in source.namelist():
            target.writestr(name, buffer.getvalue() if name == "policy.pth" else source.read(name))
    with pytest.raises(ValueError, match="not a readable model zip"):
        load_policy_weights(fresh, hostile)


finite = dict(allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(tau=st.floats(-2, 3, **finite), gamma=st.floats(-2, 3, **finite))
def test_property_tau_gamma_validation(tau, gamma):
    valid = 0 <= tau <= 1 and 0 <= gamma <= 1
    try:
        SoftAC("MlpPolicy", "Pendulum-v1", tau=tau, gamma=gamma, _init_setup_model=False)
        assert valid
    except ValueError as error:
        assert not valid and ("tau=" in str(error) or "gamma=" in str(error))


@settings(max_examples=200, deadline=None)
@given(
    ent_coef=st.one_of(
        st.floats(allow_nan=True), st.text(max_size=12), st.builds(lambda x: f"auto_{x}", st.floats()), st.just("auto")
    )
)
def test_property_ent_coef_validation(ent_coef):
    """Accepted exactly where SB3's SAC reads a usable temperature: 'auto...' with a positive finite number after
    the first '_' (or none), else a finite number >= 0 (also as a string)."""

    def finite_at_least(text: str, low: float, strict: bool) -> bool:
        try:
            value = float(text)
        except ValueError:
            return False
        return math.isfinite(value) and (value > low if strict else value >= low)

    if isinstance(ent_coef, str) and ent_coef.startswith("auto"):
        valid = "_" not in ent_coef or finite_at_least(ent_coef.split("_")[1], 0.0, strict=True)
    elif isinstance(ent_coef, str):
        valid = finite_at_least(ent_coef, 0.0, strict=False)
    else:
        valid = math.isfinite(ent_coef) and ent_coef >= 0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # non-canonical 'auto...' strings warn
            SoftAC("MlpPolicy", "Pendulum-v1", ent_coef=ent_coef, _init_setup_model=False)
        assert valid
    except ValueError as error:
        assert not valid and f"ent_coef={ent_coef!r}" in str(error)


PROPERTY_ACTOR = SoftAC("MlpPolicy", "Pendulum-v1", **FAST).actor


@settings(max_examples=300, deadline=None)
@given(mean=st.floats(-40, 40, **finite), log_std=st.floats(-20, 2, **finite), noise=st.floats(-6, 6, **finite))
def test_property_log_prob_finite_near_bounds(mean, log_std, noise):
    """float32 log pi(a|s) from action_log_prob stays finite even where tanh(u) rounds to exactly +-1.

    The actor's Gaussian parameters and its noise draw are set to the drawn values, so the whole
    sampling path of ``SquashedGaussianActor.action_log_prob`` runs on them.
    """
    mean_t, log_std_t, noise_t = (th.tensor([[v]], dtype=th.float32) for v in (mean, log_std, noise))
    obs = th.zeros((1, 3))
    with (
        mock.patch.object(PROPERTY_ACTOR, "gaussian_params", return_value=(mean_t, log_std_t, None)),
        mock.patch("sb3_softac.policies.th.randn_like", return_value=noise_t),
    ):
        actions, log_prob = PROPERTY_ACTOR.action_log_prob(obs)
    assert th.isfinite(log_prob).all()
    assert actions.item() == th.tanh(mean_t + log_std_t.exp() * noise_t).item()


@settings(max_examples=300, deadline=None)
@given(u=st.floats(-6, 6, **finite))
def test_property_log_det_matches_numerical_change_of_variables(u):
    """log |d tanh(u)/du| against a central finite difference (float64; beyond |u| ~ 6 the difference cancels)."""
    h = 1e-6
    numerical = math.log((math.tanh(u + h) - math.tanh(u - h)) / (2 * h))
    assert tanh_log_det_jacobian(th.tensor([[u]], dtype=th.float64)).item() == pytest.approx(numerical, rel=1e-6, abs=1e-7)


@settings(max_examples=300, deadline=None)
@given(u=st.floats(-300, 300, **finite))
def test_property_log_det_matches_log_cosh_far_out(u):
    """Far from 0, where tanh(u) is 1 in float64, the value still equals -2 log cosh(u) (math.cosh, float64).

    Tolerance 1e-8: torch's softplus turns linear past 20, dropping a log1p(e^-20) < 2.1e-9 term.
    """
    expected = -2.0 * math.log(math.cosh(u))
    assert tanh_log_det_jacobian(th.tensor([[u]], dtype=th.float64)).item() == pytest.approx(expected, rel=1e-12, abs=1e-8)
