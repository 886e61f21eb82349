"""Rebuild the small trained models committed for the tests (``tests/data/*.keras``).

    .venv/bin/python -m tests.data.make_models

They are trained on the tests' ``tiny_data`` (two classes of six photo crops, written the same
way every time) with the recipes in ``tests/conftest.py``; the session fixtures ``tiny_model``
and ``sure_model`` copy them instead of training.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from tests.conftest import MODELS, train_sure_model, train_tiny_model, write_tiny_classes


def main() -> None:
    """Train both models and write them beside this script."""
    with tempfile.TemporaryDirectory() as tmp:
        data = write_tiny_classes(Path(tmp) / "data")
        for name, make in (("tiny.keras", train_tiny_model), ("sure.keras", train_sure_model)):
            out = make(data, MODELS / name)
            print(f"{out} ({out.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
