"""compile_update=True on CPU: the compiled functional step (functional_step.py) is SoftAC's eager step,
and the options it does not cover run the eager step, with a warning."""

import numpy as np
import pytest
import torch as th
from gymnasium import spaces

from sb3_softac import PRESETS, SoftAC
from sb3_softac.functional_step import adam_, ensure_adam_state, is_plain_adam, unsupported_reason
from tests.envs import SpaceEnv

SMALL = dict(learning_starts=64, batch_size=32, buffer_size=1000, policy_kwargs=dict(net_arch=[32, 32]), seed=0)


def trained_tensors(model: SoftAC) -> list[th.Tensor]:
    """Every tensor a gradient step changes: weights, target weights, log alpha, Adam's state."""
    tensors = [*model.policy.state_dict().values()]
    if model.log_ent_coef is not None:
        tensors.append(model.log_ent_coef)
    for optimizer in model._optimizers():
        for state in optimizer.state.values():
            tensors += [value for value in state.values() if isinstance(value, th.Tensor)]
    return tensors


def train_from(model: SoftAC, start: list[th.Tensor], n_updates: int, compile_update: bool) -> list[th.Tensor]:
    """Put the model back to ``start``, run three train() calls with fixed seeds, return its tensors."""
    with th.no_grad():
        for tensor, value in zip(trained_tensors(model), start):
            tensor.copy_(value)
    model._n_updates = n_updates
    model.compile_update = compile_update
    for call in range(3):
        np.random.seed(call)  # the replay buffer's sampling
        th.manual_seed(call)  # the actor's noise and dropout
        model.train(gradient_steps=2, batch_size=32)
    return [tensor.detach().clone() for tensor in trained_tensors(model)]


def largest_relative_difference(first: list[th.Tensor], second: list[th.Tensor]) -> float:
    return max(
        ((a.double() - b.double()).abs().max() / b.double().abs().max().clamp_min(1e-12)).item() for a, b in zip(first, second)
    )


@pytest.fixture(autouse=True)
def same_random_numbers_when_compiled():
    import torch._inductor.config

    with torch._inductor.config.patch(fallback_random=True):  # else Inductor draws its own random numbers
        yield


@pytest.mark.parametrize(
    "options",
    [
        dict(),
        dict(ent_coef=0.1),
        dict(temperature_loss="alpha", policy_delay=2, qf_learning_rate=1e-3, learning_rate=lambda progress: 1e-3 * progress),
        dict(n_steps=3, target_update_interval=2, tau=0.1, gamma=0.9),
        dict(PRESETS["droq"], gradient_steps=2, policy_delay=2),
        dict(policy_kwargs=dict(n_critics=3)),
    ],
    ids=["default", "fixed-temperature", "alpha-loss-delay-schedules", "n-step-target-interval", "droq", "3-critics"],
)
def test_compiled_functional_step_is_the_eager_step(options):
    options = {**SMALL, **options, "policy_kwargs": {**SMALL["policy_kwargs"], **options.get("policy_kwargs", {})}}
    assert_compiled_functional_step_is_the_eager_step(SoftAC("MlpPolicy", "Pendulum-v1", **options))


def test_compiled_functional_step_is_the_eager_step_in_bf16_to_bf16_rounding():
    # bf16 keeps 8 significant bits (relative rounding 2^-9 ~ 2e-3 per op), and the compiled kernels
    # round at other points than the eager ones.
    model = SoftAC("MlpPolicy", "Pendulum-v1", **SMALL, bf16_matmuls=True)
    assert_compiled_functional_step_is_the_eager_step(model, tolerance=2e-2)


def test_compiled_functional_step_is_the_eager_step_on_dict_observations():
    space = spaces.Dict({"position": spaces.Box(-1.0, 1.0, (3,), np.float32), "goal": spaces.Box(-2.0, 2.0, (2,), np.float32)})
    assert_compiled_functional_step_is_the_eager_step(SoftAC("MultiInputPolicy", SpaceEnv(space), **SMALL))


def assert_compiled_functional_step_is_the_eager_step(model: SoftAC, tolerance: float = 1e-5) -> None:
    """Three train() calls from the same state with the same random numbers: compiled functional = eager,
    to ``tolerance`` relative to each tensor's largest entry (and the statistics to 100 times that)."""
    model.learn(100)  # fills the buffer and takes the first steps: every state tensor exists
    assert model.functional_step_unsupported() is None
    start = [tensor.detach().clone() for tensor in trained_tensors(model)]
    n_updates = model._n_updates
    eager = train_from(model, start, n_updates, compile_update=False)
    stats_eager = dict(model.logger.name_to_value)
    functional = train_from(model, start, n_updates, compile_update=True)
    stats_functional = dict(model.logger.name_to_value)
    assert largest_relative_difference(eager, start) > 10 * tolerance  # the steps change the model
    assert largest_relative_difference(functional, eager) < tolerance
    assert stats_functional.keys() == stats_eager.keys()
    for key, value in stats_eager.items():
        assert stats_functional[key] == pytest.approx(value, rel=10 * tolerance, abs=1e-6), key
    assert model._n_updates == n_updates + 6


def test_the_learning_rate_schedule_reaches_the_compiled_step_without_recompiling():
    model = SoftAC("MlpPolicy", "Pendulum-v1", **SMALL, compile_update=True, learning_rate=lambda progress: 1e-3 * progress)
    model.learn(200)
    assert model._learning_rate_tensor.item() == pytest.approx(model.actor.optimizer.param_groups[0]["lr"])
    assert model._learning_rate_tensor.item() < 1e-3 * 0.7  # it followed the schedule down
    assert model._functional_step_compiled
    frames = th._dynamo.utils.counters["stats"]["unique_graphs"]
    model.learn(50, reset_num_timesteps=False)
    assert th._dynamo.utils.counters["stats"]["unique_graphs"] == frames  # new rates, same graphs


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        (dict(update_order="critic_first"), "update_order='critic_first'"),
        (dict(use_sde=True), "use_sde=True"),
        (dict(PRESETS["crossq"]), "Batch Renormalization"),
        (dict(policy_kwargs=dict(optimizer_class=th.optim.RMSprop)), "optimizer RMSprop"),
        (dict(policy_kwargs=dict(optimizer_kwargs=dict(weight_decay=1e-4))), "optimizer Adam"),
    ],
)
def test_options_the_functional_step_does_not_cover_are_named(options, reason):
    model = SoftAC("MlpPolicy", "Pendulum-v1", **{**SMALL, **options})
    assert reason in model.functional_step_unsupported()  # type: ignore[operator]


def test_image_observations_are_named():
    env = SpaceEnv(spaces.Dict({"image": spaces.Box(0, 255, (1, 36, 36), np.uint8)}))
    model = SoftAC("MultiInputPolicy", env, **SMALL)
    assert "image observations" in model.functional_step_unsupported()  # type: ignore[operator]


def test_devices_other_than_the_cpu_are_named():
    # "meta" stands for any non-CPU device: the reason depends on the device type alone, so no model is built.
    reason = unsupported_reason(th.device("meta"), "joint", False, th.nn.Linear(1, 1), [], spaces.Discrete(2))
    assert reason is not None and "device 'meta'" in reason


def test_unsupported_options_run_the_eager_step_with_a_warning_that_says_why():
    model = SoftAC("MlpPolicy", "Pendulum-v1", **SMALL, update_order="critic_first", compile_update=True)
    start = [tensor.detach().clone() for tensor in model.policy.parameters()]
    with pytest.warns(UserWarning, match="run eagerly, because of update_order='critic_first'"):
        model.learn(80)
    assert not model._functional_step_compiled
    assert any(not th.equal(a, b) for a, b in zip(start, model.policy.parameters()))


def test_a_model_trained_functionally_saves_loads_and_trains_on(tmp_path):
    model = SoftAC("MlpPolicy", "Pendulum-v1", **SMALL, compile_update=True)
    model.learn(100)
    model.save(tmp_path / "model")
    loaded = SoftAC.load(tmp_path / "model", env=model.get_env())
    for ours, theirs in zip(trained_tensors(model), trained_tensors(loaded)):
        assert th.equal(ours, theirs)
    assert loaded.compile_update is True
    loaded.learn(20, reset_num_timesteps=False)  # compiles again for the loaded model
    assert loaded._functional_step_compiled
    # set_parameters gives the trained model new optimizer-state tensors: the compiled step must use them.
    model.set_parameters(str(tmp_path / "model"))
    steps = [state["step"] for state in model.critic.optimizer.state.values()]
    before = [step.item() for step in steps]
    model.train(gradient_steps=1, batch_size=32)
    assert [step.item() for step in steps] == [value + 1 for value in before]


def test_adam_step_is_torch_adams():
    parameter = th.nn.Parameter(th.randn(5, 3))
    reference = th.nn.Parameter(parameter.detach().clone())
    settings = dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6)
    ours, theirs = th.optim.Adam([parameter], **settings), th.optim.Adam([reference], **settings)
    assert is_plain_adam(ours)
    ensure_adam_state(ours)
    for _ in range(3):
        gradient = th.randn(5, 3)
        with th.no_grad():
            adam_(parameter, gradient, ours.state[parameter], ours.param_groups[0], th.tensor(0.01))
        reference.grad = gradient
        theirs.step()
    th.testing.assert_close(parameter, reference, rtol=1e-6, atol=1e-7)
    th.testing.assert_close(ours.state[parameter]["exp_avg_sq"], theirs.state[reference]["exp_avg_sq"])
    assert not is_plain_adam(th.optim.Adam([reference], amsgrad=True))
