"""Thin adapters between SoftAC and the tools around it: DeepMind Control (``dmc``), RL-Zoo (``zoo``)
and Weights & Biases (``wandb_tracking``). None of them holds algorithm logic; the algorithm core is
``sb3_softac.softac`` with its policies, buffers, checkpoints and CUDA graphs."""
