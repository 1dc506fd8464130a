"""Two Optuna workers meeting a fresh PostgreSQL database at the same moment, with and without SoftAC's preparation.

    python benchmarks/storage_race.py --rounds 10

Each round creates an empty database on a throw-away server (tests/postgres.py: initdb + pg_ctl) and
starts two processes at once that open the same study: plain ``optuna.create_study`` (what rl_zoo3's
``-optimize`` does) or ``prepare_shared_study`` first (what the softac trainer does). Prints how
many rounds had a worker fail, and the error.
"""

import argparse
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.postgres import create_database, postgres_server

WORKERS = {
    "plain optuna.create_study": (
        "import optuna, sys; "
        "optuna.create_study(storage=sys.argv[1], study_name='s', load_if_exists=True, direction='maximize')"
    ),
    "prepare_shared_study, then optuna.create_study": (
        "import optuna, sys; from sb3_softac.integrations.zoo.storage import prepare_shared_study; "
        "prepare_shared_study(sys.argv[1], 's', {'command': 'x'}); "
        "optuna.create_study(storage=sys.argv[1], study_name='s', load_if_exists=True, direction='maximize')"
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    with postgres_server() as server:
        for kind, (name, code) in enumerate(WORKERS.items()):
            failed, errors = 0, set()
            for round_index in range(args.rounds):
                url = create_database(server, f"race_{kind}_{round_index}")
                workers = [
                    subprocess.Popen([sys.executable, "-c", code, url], stderr=subprocess.PIPE, text=True) for _ in range(2)
                ]
                outputs = [worker.communicate()[1] for worker in workers]
                bad = [out for worker, out in zip(workers, outputs) if worker.returncode != 0]
                failed += bool(bad)
                errors |= {next((line for line in out.splitlines() if "Error" in line), out[-200:])[:200] for out in bad}
            print(f"{name}: a worker failed in {failed} of {args.rounds} rounds")
            for error in sorted(errors):
                print(f"    {error}")


if __name__ == "__main__":
    main()
