"""Checking model zips before SB3 unpickles them, and loading only the weights of an untrusted zip.

An SB3 model zip holds a ``data`` member (JSON, with cloudpickled objects inside) and tensors saved
with ``torch.save``. ``SoftAC.load`` unpickles, so **loading a zip can execute code**: load only zips
you trust. :func:`load_policy_weights` reads nothing but tensors (``torch.load(weights_only=True)``).
Both take SoftAC zips and SB3 SAC zips (converted by :mod:`sb3_softac.migration`).
"""

import io
import json
import pathlib
import pickle
import zipfile
from typing import Any

import torch as th

from sb3_softac.migration import SB3_SAC_POLICIES, ensemble_policy_state, is_sb3_sac_state

# A parameter name only SoftAC's policy has (the batched critic ensemble).
_SOFTAC_KEY = "critic.q_net."


def _zip_bytes(path: str | pathlib.Path | io.BufferedIOBase) -> bytes:
    if isinstance(path, (str, pathlib.Path)):
        path = pathlib.Path(path)
        if path.suffix != ".zip" and not path.exists() and path.with_suffix(".zip").exists():
            path = path.with_suffix(".zip")  # SB3 accepts the path without ".zip"
        return path.read_bytes()
    position = path.tell()
    data = path.read()
    path.seek(position)
    return data


def _saved_policy_name(archive: zipfile.ZipFile) -> str:
    """The saved policy class, from the JSON only (its pickled part is not touched)."""
    try:
        policy = json.loads(archive.read("data")).get("policy_class", {})
        init = str(policy.get("__init__", ""))  # "<function ActorCriticPolicy.__init__ at 0x...>"
        name = init.split()[1].rsplit(".", 1)[0] if init.startswith("<function") else "?"
        return f"{policy.get('__module__', '?')}.{name}"
    except (KeyError, ValueError, AttributeError):
        return "an unknown policy"


def _read_zip(
    path: str | pathlib.Path | io.BufferedIOBase, device: th.device | str
) -> tuple[zipfile.ZipFile, dict[str, th.Tensor]]:
    """The zip and its policy tensors, without unpickling; ``ValueError`` for files that are not SB3 model zips."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(_zip_bytes(path)))
        names = set(archive.namelist())
        if not {"data", "policy.pth"} <= names:
            raise ValueError(
                f"{path} is a zip but not an SB3 model: it has no 'data' and 'policy.pth' members (found {sorted(names)})."
            )
        state = th.load(io.BytesIO(archive.read("policy.pth")), map_location=device, weights_only=True)
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, EOFError, RuntimeError, OSError, pickle.UnpicklingError) as error:
        raise ValueError(
            f"{path} is not a readable model zip (truncated or corrupt?): {type(error).__name__}: {error}"
        ) from error
    return archive, state


def sb3_sac_policy_equivalent(path: str | pathlib.Path | io.BufferedIOBase) -> str | None:
    """
    :param path: Model zip (path, with or without ``.zip``, or file object).
    :return: For an SB3 SAC zip, the name of SoftAC's policy that takes its place (``"MlpPolicy"``,
        ``"CnnPolicy"`` or ``"MultiInputPolicy"``); ``None`` for a SoftAC zip.
    :raises ValueError: For a zip that is neither, or an SB3 SAC zip with a custom policy class.
    """
    return _softac_policy_for(path, *_read_zip(path, "cpu"))


def _softac_policy_for(path: Any, archive: zipfile.ZipFile, state: dict[str, th.Tensor]) -> str | None:
    """See :func:`sb3_sac_policy_equivalent`."""
    if any(key.startswith(_SOFTAC_KEY) for key in state):
        return None
    policy = _saved_policy_name(archive)
    if not is_sb3_sac_state(state):
        raise ValueError(
            f"{path} was saved by neither SoftAC nor SB3's SAC: its policy is {policy}. "
            "Load it with the algorithm that saved it (e.g. stable_baselines3.PPO.load)."
        )
    if policy not in SB3_SAC_POLICIES:
        raise ValueError(
            f"{path} is an SB3 SAC model with the custom policy class {policy}; SoftAC converts SB3's own "
            f"SAC policies ({', '.join(SB3_SAC_POLICIES)}). Load it with SB3's SAC.load, or rebuild it as a SoftAC model "
            "with the same policy_kwargs and copy the weights with sb3_softac.migration.ensemble_policy_state."
        )
    return SB3_SAC_POLICIES[policy]


def read_policy_state(path: str | pathlib.Path | io.BufferedIOBase, device: th.device | str = "cpu") -> dict[str, th.Tensor]:
    """
    Check that ``path`` is a readable SoftAC (or SB3 SAC) model zip and return its policy tensors, without unpickling.

    :param path: Model zip (path, with or without ``.zip``, or file object).
    :param device: Where to map the tensors.
    :return: The policy's state dict, in SoftAC's layout (an SB3 SAC zip's critics converted).
    :raises ValueError: truncated or corrupt zip, a zip that is not an SB3 model, or a model of another algorithm.
    """
    archive, state = _read_zip(path, device)
    _softac_policy_for(path, archive, state)
    return ensemble_policy_state(state) if is_sb3_sac_state(state) else state


def load_policy_weights(model: Any, path: str | pathlib.Path | io.BufferedIOBase) -> None:
    """
    Load only the policy tensors of a (possibly untrusted) SoftAC or SB3 SAC zip into ``model``: no code runs.

    Build ``model`` with the same architecture first (the zip's hyperparameters are not read).
    Optimizer states and the temperature are not loaded: use ``SoftAC.load`` for a trusted zip.

    :param model: A SoftAC model whose policy matches the saved one.
    :param path: The model zip.
    """
    model.policy.load_state_dict(read_policy_state(path, device=model.device))
