"""`python -m sb3_softac.record_video --algo softac ...`: rl_zoo3's record_video with SoftAC registered.

See :mod:`sb3_softac.integrations.zoo`.
"""

from sb3_softac.integrations.zoo.cli import record_video_main

if __name__ == "__main__":
    record_video_main()
