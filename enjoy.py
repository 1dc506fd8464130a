"""Checkout shim: `python enjoy.py --algo softac ...` runs rl_zoo3's enjoy with SoftAC registered."""

from sb3_softac.integrations.zoo.cli import enjoy_main

if __name__ == "__main__":
    enjoy_main()
