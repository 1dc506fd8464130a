"""Read an offline W&B run file (``run-<id>.wandb``): leveldb-log framing around protobuf ``Record`` messages."""

import json
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from wandb.proto import wandb_internal_pb2

_BLOCK_SIZE = 32 * 1024
_FILE_HEADER = 7  # b":W&B" + 2-byte magic + 1-byte version
_RECORD_HEADER = 7  # crc32 (4), length (2), chunk type (1)
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


def _payloads(data: bytes) -> Iterator[bytes]:
    assert data[:4] == b":W&B", "not a W&B run file"
    position, pending = _FILE_HEADER, b""
    while position + _RECORD_HEADER <= len(data):
        left_in_block = _BLOCK_SIZE - position % _BLOCK_SIZE
        if left_in_block < _RECORD_HEADER:  # block trailer padding
            position += left_in_block
            continue
        _, length, chunk_type = struct.unpack("<IHB", data[position : position + _RECORD_HEADER])
        position += _RECORD_HEADER
        chunk, position = data[position : position + length], position + length
        if chunk_type == _FULL:
            yield chunk
        elif chunk_type == _FIRST:
            pending = chunk
        elif chunk_type == _MIDDLE:
            pending += chunk
        elif chunk_type == _LAST:
            yield pending + chunk
        elif chunk_type == 0:  # zero padding to the end of the block
            position += left_in_block - _RECORD_HEADER - length


def _flat(items: Any) -> dict[str, Any]:
    """History/summary items as {"a/b": value}: nested keys joined, and dict values (media) flattened the same way."""
    flat: dict[str, Any] = {}
    for item in items:
        key, value = item.key or "/".join(item.nested_key), json.loads(item.value_json)
        if isinstance(value, dict):
            flat.update({f"{key}/{sub}": sub_value for sub, sub_value in value.items()})
        else:
            flat[key] = value
    return flat


def _records(run_file: Path, timeout: float) -> list[Any]:
    """
    The file's records once it is complete (its last record is the run's ``exit``). wandb-core's writer can
    still be appending (e.g. the last history row) for a moment after ``run.finish()`` has returned.
    """
    deadline = time.monotonic() + timeout
    while True:
        records = []
        for payload in _payloads(run_file.read_bytes()):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(payload)
            records.append(record)
        if records and records[-1].WhichOneof("record_type") == "exit":
            return records
        if time.monotonic() > deadline:
            raise TimeoutError(f"{run_file} has no exit record after {timeout} s: the run was not finished")
        time.sleep(0.1)


def read_run(run_file: Path, timeout: float = 30.0) -> dict[str, Any]:
    """
    :param run_file: An offline ``run-<id>.wandb`` file of a finished run.
    :param timeout: Seconds to wait for the writer to complete the file.
    :return: ``{"config": {key: value}, "history": [row dicts], "summary": {key: value}, "files": [paths]}``.
    """
    config: dict[str, Any] = {}
    history: list[dict[str, Any]] = []
    summary: dict[str, Any] = {}
    files: list[str] = []
    for record in _records(run_file, timeout):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            config.update({item.key: json.loads(item.value_json) for item in record.run.config.update})
        elif kind == "config":
            config.update({item.key: json.loads(item.value_json) for item in record.config.update})
        elif kind == "history":
            history.append(_flat(record.history.item))
        elif kind == "summary":
            summary.update(_flat(record.summary.update))
        elif kind == "files":
            files.extend(item.path for item in record.files.files)
    return {"config": config, "history": history, "summary": summary, "files": files}
