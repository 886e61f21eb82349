"""Pretrained weights: where Keras keeps them, fetching them, and saying clearly when offline.

The one place a weights choice (None, "imagenet" or a file) becomes a file to load:
:func:`resolve_weights`. Keras is imported inside functions only.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Callable
from pathlib import Path

from resnet_gui.core.base.atomic import replacing, sweep
from resnet_gui.core.base.errors import TrainingError, WeightsUnavailableError
from resnet_gui.core.model.archs import ArchSpec, get_arch

WEIGHTS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"


def keras_home() -> Path:
    """The Keras cache folder (``$KERAS_HOME`` or ``~/.keras``)."""
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")).expanduser()


def imagenet_weights_path(arch: str) -> Path | None:
    """Where Keras keeps the no-top ImageNet weights of ``arch`` (None if it has none)."""
    spec = get_arch(arch)
    if spec.weights_file is None:
        return None
    return keras_home() / "models" / spec.weights_file


def imagenet_weights_cached(arch: str) -> bool:
    """True when the ImageNet weights file of ``arch`` is already in the Keras cache."""
    path = imagenet_weights_path(arch)
    return path is not None and path.is_file() and path.stat().st_size > 0


#: Set, in this process and in every process it starts later, once a download of weights has
#: failed for want of a network; its value is the reason in plain words. Later choices of
#: weights in the session then say so at once instead of trying the network again.
OFFLINE_ENV = "RESNET_GUI_WEIGHTS_OFFLINE"

#: What a failed download means when the cause is the network (no route, no name service).
OFFLINE_REASON = "this computer cannot reach the download server (offline)"

_NETWORK_SIGNS = ("URL fetch failure", "Name or service not known", "Errno -2", "Errno -3",
                  "Temporary failure in name resolution", "Network is unreachable",
                  "timed out", "Connection refused")


def offline_reason() -> str | None:
    """Why weights cannot be downloaded in this session (None: not tried, or it worked)."""
    return os.environ.get(OFFLINE_ENV) or None


def remember_offline(reason: str) -> None:
    """Note for the rest of the session (and processes started from now on) that downloads
    fail for ``reason``."""
    os.environ[OFFLINE_ENV] = reason


def download_weights_file(
    filename: str, arch: str, log: Callable[[dict], None] | None = None, announce: bool = True
) -> Path:
    """The Keras cache's ``filename``, downloaded once if it is not there yet.

    The network is tried at most once per session: after a failure for want of a network,
    :func:`remember_offline` keeps the reason and later calls fail at once.

    Args:
        filename: a file of Keras' ResNet weights folder.
        arch: the architecture the file is for (named in messages).
        log: told ``{"message": "downloading ..."}`` before a download when ``announce``, and
            ``{"offline": reason}`` when the network cannot be reached.
        announce: say that a download starts (False when the caller only probes).

    Raises:
        WeightsUnavailableError: not cached and not downloadable, in one plain line that says
            which file to put where.
    """
    target = keras_home() / "models" / filename
    if target.is_file() and target.stat().st_size > 0:
        return target
    reason = offline_reason()
    if reason:
        raise WeightsUnavailableError(imagenet_unavailable_message(arch, reason, filename))
    from resnet_gui.core.base.tfsetup import import_keras

    keras = import_keras()
    if log is not None and announce:
        log({"message": f"downloading ImageNet weights for {get_arch(arch).title} "
                        f"({filename})…"})
    try:
        # Keras prints "Downloading data from URL" and a progress bar on stdout; the log has
        # said what is downloaded, and on failure the reason below is all a user needs.
        # It writes straight to its name, and a process killed meanwhile (Stop while the
        # weights download) left a cut file there that passed for the weights ever after: the
        # file is fetched under a temporary name and renamed once whole.
        sweep(target.parent, target)  # what killed downloads left
        with contextlib.redirect_stdout(io.StringIO()), replacing(target) as partial:
            keras.utils.get_file(partial.name, WEIGHTS_URL + filename, cache_subdir="models",
                                 cache_dir=str(keras_home()))
    except Exception as exc:  # noqa: BLE001 - Keras raises a bare Exception when offline
        text = str(exc)
        if any(sign in text for sign in _NETWORK_SIGNS):
            reason = OFFLINE_REASON
            remember_offline(reason)
            if log is not None:
                log({"offline": reason})
        else:
            reason = text.strip().splitlines()[0][:160] if text.strip() else type(exc).__name__
        raise WeightsUnavailableError(
            imagenet_unavailable_message(arch, reason, filename)) from None
    return target


def fetch_imagenet_weights(
    arch: str, log: Callable[[dict], None] | None = None, announce: bool = True
) -> Path:
    """Return the cached no-top ImageNet weights of ``arch``, downloading them if needed
    (:func:`download_weights_file`).

    Raises:
        WeightsUnavailableError: no network and no cached file (names the file to place where).
    """
    spec = get_arch(arch)
    if spec.weights_file is None:
        raise WeightsUnavailableError(f"Keras ships no ImageNet weights for {spec.title}")
    return download_weights_file(spec.weights_file, arch, log, announce)


def resolve_weights(
    spec: ArchSpec, weights: str | None, log: Callable[[dict], None] | None = None,
    announce: bool = True,
) -> Path | None:
    """The file to load for a weights choice: None, "imagenet" (cached or fetched) or a path.

    Raises:
        TrainingError: ImageNet weights asked for an architecture Keras has none for.
        WeightsUnavailableError: the ImageNet file cannot be had, or the path is no file.
    """
    if weights is None:
        return None
    if weights == "imagenet":
        if not spec.has_imagenet:
            raise TrainingError(
                f"Keras ships no ImageNet weights for {spec.title}: use resnet50/101/152 for "
                "transfer learning, or --weights none to train it from scratch"
            )
        return fetch_imagenet_weights(spec.name, log, announce)
    path = Path(weights).expanduser()
    if not path.is_file():
        raise WeightsUnavailableError(f"weights file not found: {path}")
    return path


def imagenet_unavailable_message(
    arch: str, cause: BaseException | str, filename: str | None = None
) -> str:
    """One plain line: the ImageNet weights cannot be had, why, and which file to put where."""
    target = imagenet_weights_path(arch)
    name = filename or (target.name if target else "?")
    folder = keras_home() / "models"
    first = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
    return (
        f"ImageNet weights for {get_arch(arch).title} are not available: {first[:160]}. "
        f"To use them, put {name} in {folder}, or choose a weights file (--weights PATH); "
        "--weights none trains from scratch"
    )
