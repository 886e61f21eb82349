"""The file dialogs' name filters, made from the core's lists (one home for each suffix)."""

from __future__ import annotations

from collections.abc import Iterable

from resnet_gui.core.data.images import IMAGE_EXTENSIONS
from resnet_gui.core.model.files import MODEL_SUFFIXES


def name_filter(title: str, suffixes: Iterable[str], all_files: bool = True) -> str:
    """``"Title (*.a *.b);;All files (*)"`` for a Qt file dialog."""
    patterns = " ".join(f"*{s}" for s in suffixes)
    return f"{title} ({patterns})" + (";;All files (*)" if all_files else "")


#: Images the app reads.
IMAGE_FILTER = name_filter("Images", sorted(IMAGE_EXTENSIONS))
#: Models the app opens (ours, Keras .h5, Teachable Machine).
MODEL_FILTER = name_filter("Keras models", MODEL_SUFFIXES)
#: Models the app writes, and the ones ``--init`` continues from.
KERAS_FILTER = name_filter("Keras model", (".keras",), all_files=False)
