"""Choosing a tf.distribute strategy by name.

- "default": one device (a GPU if TensorFlow sees one, else the CPU);
- "mirrored": every GPU of this host, or `cpu_devices` logical CPUs when there
  is no GPU (how the tests run it on a laptop);
- "multi-worker": MultiWorkerMirroredStrategy across hosts, each host reading
  its role from the TF_CONFIG environment variable.
"""

from __future__ import annotations

import json
import os

import tensorflow as tf

from hmm_live.errors import ConfigError

STRATEGIES = ("default", "mirrored", "multi-worker")


def make_strategy(name: str = "default", cpu_devices: int | None = None) -> tf.distribute.Strategy:
    if name not in STRATEGIES:
        raise ConfigError(f"unknown distribution strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
    if cpu_devices:
        split_cpu(cpu_devices)
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "multi-worker":
        if "TF_CONFIG" not in os.environ:
            raise ConfigError("multi-worker training needs TF_CONFIG (cluster and task) in the environment")
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    devices = [d.name for d in gpus or tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(devices=devices)


def split_cpu(n: int) -> None:
    """Present the CPU as n logical devices; only possible before TensorFlow starts."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * n)
    except RuntimeError:
        if len(tf.config.list_logical_devices("CPU")) != n:
            raise ConfigError(
                f"cannot split the CPU into {n} devices: TensorFlow has already "
                f"started (split it first thing in the process)"
            ) from None


def is_chief() -> bool:
    """Whether this process writes checkpoints: the chief, or worker 0 of a chiefless cluster."""
    config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    task = config.get("task") or {}
    if not task:
        return True
    if "chief" in config.get("cluster", {}):
        return task.get("type") == "chief"
    return task.get("type") == "worker" and int(task.get("index", 0)) == 0
