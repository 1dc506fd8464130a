"""`python -m sb3_softac.train --algo softac ...`: rl_zoo3's train with SoftAC registered (see sb3_softac.zoo)."""

from sb3_softac.zoo import train_main

if __name__ == "__main__":
    train_main()
