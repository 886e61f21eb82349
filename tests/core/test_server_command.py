"""The command line "Run on a server…" shows parses back into the same settings."""

from __future__ import annotations

import json
import shlex

import pytest

from resnet_gui.cli.commands import config_from_args
from resnet_gui.cli.parser import build_parser
from resnet_gui.core.base.config import TrainConfig
from resnet_gui.core.train.server_command import command_line, worker_command_lines

SETTINGS = [
    {},
    {"arch": "resnet34", "weights": "none", "image_size": 64, "epochs": 30, "batch_size": 64,
     "learning_rate": 0.003, "val_split": 0.1, "augment": "flip,crop", "seed": 7, "width": 48,
     "stem_stride": 2, "patience": 4, "strategy": "mirrored", "class_balance": "none"},
    {"arch": "resnet50", "weights": "/w/my weights.h5", "freeze_base": True,
     "fine_tune_blocks": 3, "augment": "none"},
    {"weights": "imagenet", "freeze_base": False, "val_dir": "/data/val dir"},
    {"init": "/models/old model.keras", "augment": ("rotate", "color")},
]


@pytest.mark.parametrize("settings", SETTINGS)
def test_the_command_parses_back_into_the_same_config(settings: dict) -> None:
    config = TrainConfig("/data/my photos", **settings)
    line = command_line(config, "/out/model.keras")
    argv = shlex.split(line)
    assert argv[0] == "resnet-gui"
    back = config_from_args(build_parser().parse_args(argv[1:]))
    expected = {**config.to_dict(), "run_out": "/out/model.keras"}
    if config.val_dir:
        expected["val_split"] = back.val_split  # a separate folder replaces the split
    if config.fine_tune_blocks:
        expected["freeze_base"] = None  # fine-tuning the top blocks freezes the rest anyway
    assert back.to_dict() == expected


def test_each_worker_gets_its_tf_config_and_the_same_command() -> None:
    config = TrainConfig("/data/photos", epochs=5)
    lines = worker_command_lines(config, "model.keras", ["a:12345", "b:12345"])
    assert len(lines) == 2
    for index, line in enumerate(lines):
        env, *argv = shlex.split(line)
        name, value = env.split("=", 1)
        assert name == "TF_CONFIG"
        assert json.loads(value) == {"cluster": {"worker": ["a:12345", "b:12345"]},
                                     "task": {"type": "worker", "index": index}}
        back = config_from_args(build_parser().parse_args(argv[1:]))
        assert back.strategy == "multiworker" and back.epochs == 5


def test_one_table_names_every_training_option() -> None:
    """The parser's train options that set a TrainConfig field are exactly TRAIN_FLAGS."""
    import argparse

    from resnet_gui.core.base.config import TRAIN_FLAGS

    fields = set(TrainConfig.__dataclass_fields__)
    assert set(TRAIN_FLAGS) <= fields
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    options = {a.dest: a.option_strings for a in sub.choices["train"]._actions
               if a.option_strings and a.dest in fields}
    assert set(options) == set(TRAIN_FLAGS)
    for field, flag in TRAIN_FLAGS.items():
        assert flag in options[field], field
