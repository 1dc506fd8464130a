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
