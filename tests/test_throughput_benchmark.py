"""benchmarks/throughput.py's learner table: which SoftAC variants a run times, and with which switches."""

import argparse

from benchmarks import throughput


def test_update_order_both_times_the_default_step_and_sb3s_order():
    implementations = throughput.softac_implementations("both", "both", " bf16")
    assert list(implementations) == [
        "SoftAC bf16",
        "SoftAC critic-first bf16",
        "SoftAC compiled bf16",
        "SoftAC compiled critic-first bf16",
    ]
    options = argparse.Namespace(bf16=True, no_cuda_graphs=False)
    models = {name: make("Pendulum-v1", "cpu", options) for name, make in implementations.items()}
    assert [(m.compile_update, m.update_order, m.bf16_matmuls) for m in models.values()] == [
        (False, "joint", True),
        (False, "critic_first", True),
        (True, "joint", True),
        (True, "critic_first", True),
    ]
    assert list(throughput.softac_implementations("off", "one-backward", "")) == ["SoftAC"]


def test_presets_are_timed_with_their_own_settings_over_the_common_networks():
    implementations = throughput.softac_implementations("off", "one-backward", "", ("droq", "crossq"))
    assert list(implementations) == ["SoftAC", "SoftAC preset droq", "SoftAC preset crossq"]
    options = argparse.Namespace(bf16=False, no_cuda_graphs=False)
    droq = implementations["SoftAC preset droq"]("Pendulum-v1", "cpu", options)
    assert (droq.gradient_steps, droq.policy_delay, droq.batch_size) == (20, 20, 256)
    assert droq.policy_kwargs["net_arch"] == [256, 256] and droq.policy_kwargs["dropout_rate"] == 0.01
    crossq = implementations["SoftAC preset crossq"]("Pendulum-v1", "cpu", options)
    assert crossq.critic_target is None and crossq.policy_kwargs["net_arch"] == dict(pi=[256, 256], qf=[2048, 2048])
    compiled = throughput.softac_implementations("both", "one-backward", "", ("droq",))
    assert list(compiled) == ["SoftAC", "SoftAC compiled", "SoftAC preset droq", "SoftAC compiled preset droq"]
    droq_compiled = compiled["SoftAC compiled preset droq"]("Pendulum-v1", "cpu", options)
    assert droq_compiled.compile_update and droq_compiled.gradient_steps == 20
    assert not compiled["SoftAC preset droq"]("Pendulum-v1", "cpu", options).compile_update


def test_steps_per_call_times_calls_of_that_many_gradient_steps_after_one_warm_up_call():
    made = []

    def make(env, device, options):
        made.append(throughput.softac_maker(False, "joint")(env, device, options))
        return made[-1]

    for per_call, steps, expected_updates in [(1, 3, 20 + 3), (5, 10, 5 + 10), (5, 3, 5 + 5)]:
        options = argparse.Namespace(bf16=False, no_cuda_graphs=False, steps_per_call=per_call)
        assert throughput.updates_per_second(make, "Pendulum-v1", "cpu", options, steps) > 0
        assert made[-1]._n_updates == expected_updates


def test_the_ceilings_matmul_list_is_the_updates_matmuls():
    # FlopCounterMode counts every matmul one default update runs; the critics' Q head is the
    # multiply-and-sum (not a matmul op), which update_matmuls lists as a one-column matmul.
    from torch.utils.flop_counter import FlopCounterMode

    from benchmarks.matmul_shapes import matmul_flop, model_on_random_transitions, update_matmuls
    from sb3_softac import SoftAC

    for obs, act, hidden, batch in [(17, 6, 256, 256), (5, 3, 64, 32)]:
        model = model_on_random_transitions(SoftAC, obs, act, hidden, batch, critics=2)
        with FlopCounterMode(display=False) as counter:
            model.train(gradient_steps=1, batch_size=batch)
        listed = update_matmuls(obs, act, hidden, batch, critics=2)
        not_heads = [
            (left, right, count) for name, left, right, count in listed if not name.startswith("critic") or "head" not in name
        ]
        assert counter.get_total_flops() == sum(matmul_flop(left, right) * count for left, right, count in not_heads)
        assert len(not_heads) == len(listed) - 3
