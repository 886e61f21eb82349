"""Rebuild the small trained models committed for the tests (``tests/data/*.keras``).

    .venv/bin/python -m tests.data.make_models

They are trained on the tests' ``tiny_data`` (two classes of six photo crops) and
``digits_train`` (40 of sklearn's digits per class), both written the same way every time, with
the recipes in ``tests/conftest.py``; the session fixtures ``tiny_model``, ``sure_model`` and
``digits_model`` copy them instead of training.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from tests.conftest import (
    MODELS,
    train_digits_model,
    train_sure_model,
    train_tiny_model,
    write_digits,
    write_tiny_classes,
)


def main() -> None:
    """Train the models and write them beside this script."""
    with tempfile.TemporaryDirectory() as tmp:
        tiny = write_tiny_classes(Path(tmp) / "data")
        digits = write_digits(Path(tmp) / "digits" / "train", 40, 0)  # as ``digits_train``
        for name, make, data in (("tiny.keras", train_tiny_model, tiny),
                                 ("sure.keras", train_sure_model, tiny),
                                 ("digits.keras", train_digits_model, digits)):
            out = make(data, MODELS / name)
            print(f"{out} ({out.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
