"""`python -m sb3_softac.train --algo softac ...`: rl_zoo3's train with SoftAC registered (see sb3_softac.integrations.zoo)."""

from sb3_softac.integrations.zoo.cli import train_main

if __name__ == "__main__":
    train_main()
