"""The ``resnet-gui train`` command line for a TrainConfig: what the app's "Run on a server…"
shows, so a job set up in the window can run on a bigger machine or several (docs/scaling.md).

The CLI parses these arguments back into the same TrainConfig (``cli.commands.config_from_args``;
a test holds the two together).
"""

from __future__ import annotations

import json
import shlex

from resnet_gui.core.base.config import TRAIN_FLAGS, TrainConfig

#: The port the examples give each worker (any free port will do).
EXAMPLE_PORT = 12345
#: Fields written below by their own rules: switches, the fine-tuning pair, the augmentation
#: list; ``resume`` belongs to one machine's interrupted run, not to a command for another.
_WRITTEN_APART = {"freeze_base", "fine_tune_blocks", "augment", "resume"}


def train_arguments(config: TrainConfig, out: str) -> list[str]:
    """``train DATA --out OUT`` plus a flag for every setting that is not the CLI's default."""
    defaults = TrainConfig(config.data_dir)
    args = ["train", config.data_dir, "--out", out]

    def flag(name: str, value: object) -> None:
        args.extend([name, str(value)])

    for field, name in TRAIN_FLAGS.items():
        if field in _WRITTEN_APART:
            continue
        value = getattr(config, field)
        if value is not None and value != getattr(defaults, field):
            if field == "val_split" and config.val_dir:
                continue  # a separate folder replaces the split
            flag(name, value)
    if config.freeze_base is not None and not config.fine_tune_blocks:  # fine-tuning: frozen
        args.append("--freeze-base" if config.freeze_base else "--no-freeze-base")
    if config.fine_tune_blocks:
        flag(TRAIN_FLAGS["fine_tune_blocks"], config.fine_tune_blocks)
    augment = config.augment if isinstance(config.augment, str) else ",".join(config.augment or ())
    if (augment or "none") != "auto":
        flag("--augment", augment or "none")
    return args


def command_line(config: TrainConfig, out: str, program: str = "resnet-gui") -> str:
    """The command as one shell line."""
    return shlex.join([program, *train_arguments(config, out)])


def tf_config(hosts: list[str], index: int) -> str:
    """The ``TF_CONFIG`` of worker ``index`` of a cluster of ``hosts`` ("name:port"); worker
    0 is the chief (it writes the model and the checkpoints)."""
    return json.dumps({"cluster": {"worker": hosts}, "task": {"type": "worker", "index": index}})


def worker_command_lines(config: TrainConfig, out: str, hosts: list[str]) -> list[str]:
    """One shell line per machine: its TF_CONFIG, then the same multi-worker command."""
    multi = TrainConfig.from_dict({**config.to_dict(), "strategy": "multiworker"})
    line = command_line(multi, out)
    return [f"TF_CONFIG={shlex.quote(tf_config(hosts, i))} {line}" for i in range(len(hosts))]
