"""The single place TensorFlow is imported, after the environment it reads is set.

Importing TensorFlow takes 5-6 s here, so nothing on the GUI start-up path calls this at module
level: the GUI calls it from a worker thread once the window is visible.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator
from typing import Any

_lock = threading.Lock()

#: Set (to anything but "" or "0") to see TensorFlow's start-up lines; ``--debug`` sets it.
DEBUG_ENV = "RESNET_GUI_DEBUG"

#: TensorFlow's C++ start-up lines that say nothing to a user: absl's "before InitializeLog"
#: notice, info lines ("Could not find cuda drivers on your machine, GPU will not be used."), and
#: the cuInit failure every machine without a GPU reports as an "E" line.
#: LiteRT's converter and interpreter add their own ("fully_quantize: 0, ...", "INFO: Created
#: TensorFlow Lite XNNPACK delegate for CPU.").
_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\)|[IW]\d{4} |E\d{4} .*"
    r"(cuInit|cuda_platform|cuda_dnn|cuda_blas|cuda_fft|Unable to register)"
    r"|INFO: Created TensorFlow Lite XNNPACK delegate|fully_quantize: )"
)


def debug_enabled() -> bool:
    """True when the user asked for TensorFlow's own diagnostics (``--debug``)."""
    return os.environ.get(DEBUG_ENV, "") not in ("", "0")


def configure_environment() -> None:
    """Set the variables TensorFlow reads at import (only where the user has not set them)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0" if debug_enabled() else "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    # oneDNN's different summation order makes seeded CPU runs differ in the last bits.
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


def import_tensorflow() -> Any:
    """Import and return the ``tensorflow`` module (thread-safe; cheap after the first call)."""
    with _lock:
        return _import()


@contextlib.contextmanager
def filtered_stderr() -> Iterator[None]:
    """Hold back what C++ code writes to file descriptor 2, then pass on all but the noise.

    TensorFlow's start-up lines are written by C++ before its log level applies, so only the
    file descriptor can catch them. Anything else written meanwhile is passed on afterwards.
    """
    if debug_enabled() or sys.stderr is None:  # None: a windowed build has no stderr
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no usable stderr
        yield
        return
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            kept = [
                line for line in held.read().decode("utf-8", "replace").splitlines(keepends=True)
                if not _NOISE.match(line)
            ]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


@functools.cache
def _import() -> Any:
    configure_environment()
    with filtered_stderr():
        import tensorflow as tf

        try:
            # Allocate GPU memory as needed rather than all at once: the GUI may hold two
            # models.
            for gpu in tf.config.list_physical_devices("GPU"):
                tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:
            pass  # devices already initialised by the caller
    return tf


def import_keras() -> Any:
    """Import and return ``keras`` (after TensorFlow and its environment)."""
    import_tensorflow()
    import keras

    return keras


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
    return {"tensorflow": tf.__version__, "keras": import_keras().__version__}
