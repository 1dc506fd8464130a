"""Checking model zips before SB3 unpickles them, and loading only the weights of an untrusted zip.

An SB3 model zip holds a ``data`` member (JSON, with cloudpickled objects inside) and tensors saved
with ``torch.save``. ``SoftAC.load`` unpickles, so **loading a zip can execute code**: load only zips
you trust. :func:`load_policy_weights` reads nothing but tensors (``torch.load(weights_only=True)``).
"""

import io
import json
import pathlib
import pickle
import zipfile
from typing import Any

import torch as th

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


def read_policy_state(path: str | pathlib.Path | io.BufferedIOBase, device: th.device | str = "cpu") -> dict[str, th.Tensor]:
    """
    Check that ``path`` is a readable SoftAC model zip and return its policy tensors, without unpickling.

    :param path: Model zip (path, with or without ``.zip``, or file object).
    :param device: Where to map the tensors.
    :return: The policy's state dict.
    :raises ValueError: truncated or corrupt zip, a zip that is not an SB3 model, or a model of another algorithm.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(_zip_bytes(path)))
        names = set(archive.namelist())
        if not {"data", "policy.pth"} <= names:
            raise ValueError(f"{path} is a zip but not an SB3 model: it has no 'data' and 'policy.pth' members (found {sorted(names)}).")
        state = th.load(io.BytesIO(archive.read("policy.pth")), map_location=device, weights_only=True)
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, EOFError, RuntimeError, OSError, pickle.UnpicklingError) as error:
        raise ValueError(f"{path} is not a readable model zip (truncated or corrupt?): {type(error).__name__}: {error}") from error
    if not any(key.startswith(_SOFTAC_KEY) for key in state):
        raise ValueError(
            f"{path} was not saved by SoftAC: its policy is {_saved_policy_name(archive)}. "
            "Load it with the algorithm that saved it (e.g. stable_baselines3.PPO.load or SAC.load)."
        )
    return state


def load_policy_weights(model: Any, path: str | pathlib.Path | io.BufferedIOBase) -> None:
    """
    Load only the policy tensors of a (possibly untrusted) SoftAC zip into ``model``: no code runs.

    Build ``model`` with the same architecture first (the zip's hyperparameters are not read).
    Optimizer states and the temperature are not loaded: use ``SoftAC.load`` for a trusted zip.

    :param model: A SoftAC model whose policy matches the saved one.
    :param path: The model zip.
    """
    model.policy.load_state_dict(read_policy_state(path, device=model.device))
