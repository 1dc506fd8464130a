"""`python -m sb3_softac.record_video --algo softac ...`: rl_zoo3's record_video with SoftAC registered (see sb3_softac.zoo)."""

from sb3_softac.zoo import record_video_main

if __name__ == "__main__":
    record_video_main()
