"""Print a finished study's best trial as a ``zoo_configs/softac.yml`` entry.

    python -m sb3_softac.integrations.zoo.best_trial --storage logs/study.log --study-name softac-pendulum \\
        --env Pendulum-v1 -n 20000 >> my_softac.yml

``--storage`` takes what ``train.py -optimize --storage`` took: a journal file (``*.log``) or a
database URL. ``--trial-id N`` picks trial N instead of the best.
"""

import argparse
import sys
from typing import Any

import yaml

from sb3_softac.integrations.zoo.search_space import zoo_entry


def open_storage(storage: str) -> Any:
    """
    :param storage: A journal file (``*.log``) or an SQLAlchemy database URL.
    :return: The Optuna storage, as rl_zoo3 opens it.
    """
    import optuna

    if storage.endswith(".log"):
        return optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(storage))  # type: ignore[attr-defined]
    return storage


def main(argv: list[str] | None = None) -> None:
    """
    :param argv: Command-line arguments (default: ``sys.argv[1:]``).
    """
    import optuna

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--storage", required=True, help="journal file (*.log) or database URL of the study")
    parser.add_argument("--study-name", required=True)
    parser.add_argument("--env", required=True, help="Gymnasium id: the entry's key")
    parser.add_argument("-n", "--n-timesteps", type=int, required=True, help="the entry's training budget")
    parser.add_argument("--trial-id", type=int, default=None, help="this trial instead of the best one")
    args = parser.parse_args(argv)
    study = optuna.load_study(storage=open_storage(args.storage), study_name=args.study_name)
    trial = study.best_trial if args.trial_id is None else study.trials[args.trial_id]
    entry = zoo_entry(trial.params, args.n_timesteps)
    sys.stdout.write(f"# Study {args.study_name}, trial {trial.number}: value {trial.value}\n")
    sys.stdout.write(yaml.safe_dump({args.env: entry}, sort_keys=False))


if __name__ == "__main__":
    main()
