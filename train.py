"""Checkout shim: `python train.py --algo softac ...` runs rl_zoo3's train with SoftAC registered."""

from sb3_softac.integrations.zoo.cli import train_main

if __name__ == "__main__":
    train_main()
