"""Checkout shim: `python record_video.py --algo softac ...` runs rl_zoo3's record_video with SoftAC registered."""

from sb3_softac.integrations.zoo.cli import record_video_main

if __name__ == "__main__":
    record_video_main()
