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
