"""The single place TensorFlow is imported, after the environment it reads is set.

Importing TensorFlow takes 5-6 s here, so nothing on the GUI start-up path calls this at module
level: the GUI calls it from a worker thread once the window is visible.
"""

from __future__ import annotations

import functools
import os
import threading
from typing import Any

_lock = threading.Lock()


def configure_environment() -> None:
    """Set the variables TensorFlow reads at import (only where the user has not set them)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    # oneDNN's different summation order makes seeded CPU runs differ in the last bits.
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


def import_tensorflow() -> Any:
    """Import and return the ``tensorflow`` module (thread-safe; cheap after the first call)."""
    with _lock:
        return _import()


@functools.cache
def _import() -> Any:
    configure_environment()
    import tensorflow as tf

    try:
        # Allocate GPU memory as needed rather than all at once: the GUI may hold two models.
        for gpu in tf.config.list_physical_devices("GPU"):
            tf.config.experimental.set_memory_growth(gpu, True)
    except RuntimeError:
        pass  # devices already initialised by the caller
    return tf


def is_imported() -> bool:
    """True once TensorFlow has been imported by :func:`import_tensorflow`."""
    return _import.cache_info().currsize > 0


@functools.cache
def device_description() -> str:
    """A short description of the device training runs on, e.g. 'GPU: NVIDIA H100' or 'CPU'."""
    tf = import_tensorflow()
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return f"CPU ({os.cpu_count()} cores)"
    try:
        details = tf.config.experimental.get_device_details(gpus[0])
        name = details.get("device_name", "GPU")
    except Exception:  # noqa: BLE001 - details are optional
        name = "GPU"
    more = f" (+{len(gpus) - 1} more)" if len(gpus) > 1 else ""
    return f"GPU: {name}{more}"


def gpu_supports_mixed_precision() -> bool:
    """True when the first GPU has tensor cores (compute capability 7.0 or newer)."""
    tf = import_tensorflow()
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return False
    try:
        cc = tf.config.experimental.get_device_details(gpus[0]).get("compute_capability")
    except Exception:  # noqa: BLE001
        return False
    return bool(cc) and tuple(cc) >= (7, 0)


def versions() -> dict[str, str]:
    """Versions of TensorFlow and Keras (imports them)."""
    tf = import_tensorflow()
    import keras

    return {"tensorflow": tf.__version__, "keras": keras.__version__}
