"""`python -m sb3_softac.enjoy --algo softac ...`: rl_zoo3's enjoy with SoftAC registered (see sb3_softac.integrations.zoo)."""

from sb3_softac.integrations.zoo.cli import enjoy_main

if __name__ == "__main__":
    enjoy_main()
