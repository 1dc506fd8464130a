"""One Optuna study shared by many ``-optimize`` workers: its database prepared safely before trials start.

Workers started at the same moment against a fresh database (a job array, a ``for`` loop, N
machines) all create Optuna's schema, the study and rl_zoo3's study attributes at once, and all but
one can fail on the database's unique constraints (PostgreSQL: ``UniqueViolation ...
pg_type_typname_nsp_index`` from two ``CREATE TYPE studydirection``). :func:`prepare_shared_study`
does those three things before rl_zoo3 does, retrying a conflict after a short random wait; what
another worker created is then simply there, and rl_zoo3's own calls only read it. Journal files
(``--storage study.log``) need none of this: Optuna's journal storage locks the file.
"""

import random
import time
from collections.abc import Callable
from typing import TypeGuard

#: How many times a conflicting first contact with a fresh database is retried.
ATTEMPTS = 20


def is_database_url(storage: str | None) -> TypeGuard[str]:
    """
    :param storage: rl_zoo3's ``--storage`` value.
    :return: Whether it is an SQLAlchemy database URL (``postgresql://...``, ``mysql://...``, ``sqlite:///...``),
        not a journal file.
    """
    return storage is not None and "://" in storage and not storage.endswith(".log")


def prepare_shared_study(
    storage: str,
    study_name: str,
    user_attrs: dict[str, str],
    attempts: int = ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """
    Create (or find) Optuna's schema, the study (maximising, as rl_zoo3's) and its user attributes,
    retrying when a concurrent worker wins a race on the same row or type.

    :param storage: An SQLAlchemy database URL.
    :param study_name: The study's name (``--study-name``).
    :param user_attrs: Study attributes to set once, in order; the last one marks them all as set
        (rl_zoo3 sets them unless ``"command"`` is there, so it goes last).
    :param attempts: Tries before the last conflict is raised.
    :param sleep: Waits between tries (a test passes a recorder).
    :raises sqlalchemy.exc.SQLAlchemyError: When the database still conflicts after ``attempts`` tries, or at
        once when it cannot be reached (``OperationalError``).
    """
    import optuna
    from sqlalchemy.exc import IntegrityError, ProgrammingError

    conflicts = (
        IntegrityError,
        ProgrammingError,
        optuna.exceptions.StorageInternalError,
        optuna.exceptions.DuplicatedStudyError,
    )

    marker = list(user_attrs)[-1] if user_attrs else None
    for attempt in range(1, attempts + 1):
        try:
            study = optuna.create_study(
                storage=optuna.storages.RDBStorage(storage), study_name=study_name, load_if_exists=True, direction="maximize"
            )
            if marker is not None and marker not in study.user_attrs:
                for key, value in user_attrs.items():
                    study.set_user_attr(key, value)
            return
        except conflicts as error:  # a unique constraint or an existing table/type another worker just made
            if attempt == attempts:
                raise
            reason = f"{type(error).__name__}: another worker is creating it"
            print(f"Optuna storage busy ({reason}); retry {attempt} of {attempts - 1}")
            sleep(random.uniform(0.1, 0.5) * attempt)
