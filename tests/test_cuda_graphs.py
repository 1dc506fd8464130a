"""The GPU path: device-side replay sampling, capturable optimizers, and the CUDA-graph replay of the update.

The buffer and optimizer tests run anywhere; the graph tests need CUDA and are skipped without it
(``benchmarks/gpu_check.sh`` runs them on a GPU machine).
"""

import pickle

import numpy as np
import pytest
import torch as th
from gymnasium import spaces

from sb3_softac import SoftAC
from sb3_softac.buffers import DeviceReplayBuffer, device_sampling_applies
from sb3_softac.cuda_graphs import CapturedStep, set_capturable

needs_cuda = pytest.mark.skipif(not th.cuda.is_available(), reason="needs a CUDA GPU")
DEVICE = "cuda" if th.cuda.is_available() else "cpu"


def filled_buffer(n_envs: int, device: str = "cpu") -> DeviceReplayBuffer:
    """50 steps of n_envs transitions; observation[0] encodes (step, env) so a sample can be traced back."""
    observation_space = spaces.Box(-np.inf, np.inf, (3,), np.float32)
    action_space = spaces.Box(-1, 1, (2,), np.float32)
    buffer = DeviceReplayBuffer(100, observation_space, action_space, device=device, n_envs=n_envs)
    for step in range(50):
        code = np.array([step * 10 + env for env in range(n_envs)], dtype=np.float32)
        obs = np.stack([code, code + 0.5, code - 0.5], axis=1)
        infos = [{"TimeLimit.truncated": step % 7 == 0 and env == 0} for env in range(n_envs)]
        done = np.array([step % 7 == 0 or step % 5 == 0] * n_envs)
        buffer.add(obs, obs + 1000, np.stack([code / 1000, -code / 1000], axis=1), code + 0.25, done, infos)
    return buffer


@pytest.mark.parametrize("n_envs", [1, 2])
def test_device_buffer_samples_are_stored_transitions(n_envs):
    """Each sampled row is one stored transition, with timeouts removed from dones as in SB3's buffer."""
    buffer = filled_buffer(n_envs, DEVICE)
    batch = buffer.sample(256)
    assert batch.observations.device.type == DEVICE and batch.observations.shape == (256, 3)
    codes = batch.observations[:, 0].long().cpu().numpy()
    steps, envs = codes // 10, codes % 10
    assert set(envs) == set(range(n_envs)) and steps.max() < 50
    assert th.equal(batch.next_observations, batch.observations + 1000)
    expected_actions = th.stack([batch.observations[:, 0] / 1000, -batch.observations[:, 0] / 1000], dim=1)
    assert th.allclose(batch.actions, expected_actions)
    assert th.equal(batch.rewards[:, 0], batch.observations[:, 0] + 0.25)
    expected_dones = [float((s % 7 == 0 or s % 5 == 0) and not (s % 7 == 0 and e == 0)) for s, e in zip(steps, envs)]
    assert batch.dones[:, 0].tolist() == expected_dones


def test_device_buffer_pickles_without_its_device_copy():
    """save_replay_buffer pickles the numpy arrays; unpickling rebuilds the device rows from them."""
    buffer = filled_buffer(2)
    restored = pickle.loads(pickle.dumps(buffer))
    assert "_rows" not in buffer.__getstate__()
    assert th.equal(restored._rows, buffer._rows)


def test_device_sampling_is_the_default_only_where_it_applies():
    vector, image = spaces.Box(-1, 1, (17,), np.float32), spaces.Box(0, 255, (3, 84, 84), np.uint8)
    cuda, cpu = th.device("cuda"), th.device("cpu")
    assert device_sampling_applies(vector, cuda, optimize_memory_usage=False, n_steps=1)
    assert not device_sampling_applies(vector, cpu, optimize_memory_usage=False, n_steps=1)
    assert not device_sampling_applies(image, cuda, optimize_memory_usage=False, n_steps=1)
    assert not device_sampling_applies(vector, cuda, optimize_memory_usage=True, n_steps=1)
    assert not device_sampling_applies(vector, cuda, optimize_memory_usage=False, n_steps=3)
    assert SoftAC("MlpPolicy", "Pendulum-v1", device="cpu").replay_buffer.__class__.__name__ == "ReplayBuffer"


def test_set_capturable_round_trip_keeps_the_optimizer_state():
    """Into capturable mode: lr and step counters become tensors on the parameter's device; back: floats, host steps."""
    param = th.nn.Parameter(th.ones(3, device=DEVICE))
    optimizer = th.optim.Adam([param], lr=0.01)
    param.grad = th.ones(3, device=DEVICE)
    optimizer.step()
    set_capturable(optimizer, True)
    group, state = optimizer.param_groups[0], optimizer.state[param]
    assert isinstance(group["lr"], th.Tensor) and group["lr"].item() == pytest.approx(0.01)
    assert state["step"].device == param.device and state["step"].item() == 1
    set_capturable(optimizer, False)
    assert group["lr"] == pytest.approx(0.01) and not isinstance(group["lr"], th.Tensor)
    assert state["step"].device.type == "cpu" and state["step"].item() == 1
    optimizer.step()
    assert state["step"].item() == 2


def test_learning_rate_schedule_updates_a_tensor_learning_rate_in_place():
    model = SoftAC(
        "MlpPolicy", "Pendulum-v1", learning_starts=50, device="cpu", learning_rate=lambda progress: progress * 1e-3
    )
    model.learn(60)
    optimizers = model._optimizers()
    for optimizer in optimizers:
        set_capturable(optimizer, True)
    tensors = [group["lr"] for optimizer in optimizers for group in optimizer.param_groups]
    model._current_progress_remaining = 0.25
    model._update_learning_rate(optimizers)
    assert all(group["lr"] is tensor for tensor, group in zip(tensors, (g for o in optimizers for g in o.param_groups)))
    assert [tensor.item() for tensor in tensors] == pytest.approx([0.25e-3] * len(tensors))


def training_state(model: SoftAC) -> list[th.Tensor]:
    """Every tensor the update reads or writes: parameters, buffers, optimizer states and learning rates."""
    tensors = [*model.policy.parameters(), *model.policy.buffers(), model.log_ent_coef]
    for optimizer in model._optimizers():
        tensors += [group["lr"] for group in optimizer.param_groups]
        tensors += [value for state in optimizer.state.values() for value in state.values()]
    return tensors


@needs_cuda
def test_captured_step_matches_eager_step():
    """
    From the same state and CUDA random-number state, one graph replay and one eager step give the same
    parameters (atol 1e-5).
    """
    model = SoftAC("MlpPolicy", "Pendulum-v1", learning_starts=100, batch_size=64, device="cuda", seed=0)
    model.learn(120)  # 20 train() calls: 3 eager warm-ups, capture, replays
    step = model._steps[True]
    assert isinstance(step, CapturedStep) and step._graph is not None
    batch = model.replay_buffer.sample(64)
    saved = [tensor.clone() for tensor in training_state(model)]
    rng = th.cuda.get_rng_state()

    step(batch)
    replayed = [tensor.clone() for tensor in training_state(model)]
    with th.no_grad():
        for tensor, value in zip(training_state(model), saved):
            tensor.copy_(value)
    th.cuda.set_rng_state(rng)
    model._gradient_step(batch)

    tolerance = 1e-5
    differences = [(a - b).abs().max().item() for a, b in zip(replayed, training_state(model)) if a.is_floating_point()]
    print(f"max |graph - eager| over the training state: {max(differences):.2e}")
    assert max(differences) <= tolerance
    moved = sum(not th.equal(a, b) for a, b in zip(replayed, saved))
    assert moved > len(saved) // 2, "the replay updated the parameters"


@needs_cuda
def test_learning_rate_changes_reach_the_captured_graph():
    model = SoftAC("MlpPolicy", "Pendulum-v1", learning_starts=100, batch_size=64, device="cuda", seed=0)
    model.learn(120)
    actor = list(model.actor.parameters())
    model.lr_schedule = lambda _: 0.0
    before = [p.clone() for p in actor]
    model.train(gradient_steps=5, batch_size=64)
    assert all(th.equal(a, b) for a, b in zip(actor, before)), "a zero learning rate leaves the actor unchanged"
    model.lr_schedule = lambda _: 3e-4
    model.train(gradient_steps=5, batch_size=64)
    assert not all(th.equal(a, b) for a, b in zip(actor, before))


@needs_cuda
def test_cuda_graph_training_learns_pendulum():
    """The whole GPU path (device sampling, captured update) learns: Pendulum-v1 above -400 after 8k steps."""
    from stable_baselines3.common.evaluation import evaluate_policy

    model = SoftAC("MlpPolicy", "Pendulum-v1", learning_rate=1e-3, device="cuda", seed=0)
    assert isinstance(model.replay_buffer, DeviceReplayBuffer)
    model.learn(8000)
    assert isinstance(model._steps[True], CapturedStep)
    mean_return, _ = evaluate_policy(model, model.get_env(), n_eval_episodes=5)
    print(f"Pendulum-v1, CUDA graphs, 8k steps: {mean_return:.1f}")
    assert mean_return > -400


def test_a_model_saved_in_capturable_mode_trains_after_loading_on_cpu(tmp_path):
    """A zip saved by a CUDA-graph run keeps capturable optimizers; training it on the CPU switches them back."""
    model = SoftAC("MlpPolicy", "Pendulum-v1", learning_starts=50, device="cpu", seed=0)
    model.learn(60)
    for optimizer in model._optimizers():
        set_capturable(optimizer, True)
    model.save(tmp_path / "model")
    loaded = SoftAC.load(tmp_path / "model", env=model.get_env(), device="cpu")
    assert all(group["capturable"] for optimizer in loaded._optimizers() for group in optimizer.param_groups)
    loaded.learn(20, reset_num_timesteps=False)
    for optimizer in loaded._optimizers():
        for group in optimizer.param_groups:
            assert not group["capturable"] and isinstance(group["lr"], float)
