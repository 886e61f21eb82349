"""The argument parser of every subcommand (one home for the CLI's interface)."""

from __future__ import annotations

import argparse
from typing import Any

from resnet_gui import __version__
from resnet_gui.cli.common import Parser, add_input_scale, fraction, positive_int
from resnet_gui.core.base.config import (
    AUGMENTATIONS,
    AUTO_AUGMENT_SUMMARY,
    CLASS_BALANCES,
    STRATEGIES,
    TRAIN_FLAGS,
)
from resnet_gui.core.data.dataset import BALANCE_RATIO, FEW_IMAGES
from resnet_gui.core.model.archs import ARCHITECTURES, STEM_STRIDES
from resnet_gui.core.train.schedule import DEFAULT_PATIENCE
from resnet_gui.core.use.export import EXPORT_FORMATS


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = Parser(
        prog="resnet-gui",
        description="Train and use ResNet image classifiers. With no command, opens the app.",
    )
    parser.add_argument("--version", action="version", version=f"resnet-gui {__version__}")
    parser.add_argument(
        "--debug", action="store_true",
        help="show tracebacks of errors and TensorFlow's own start-up messages",
    )
    app = parser.add_mutually_exclusive_group()
    app.add_argument(
        "--selftest", action="store_true",
        help="check this installation: train, predict, save, reload and export a small model "
             "on generated images and open the window offscreen; ends with 'selftest passed'",
    )
    app.add_argument("--install-desktop-entry", action="store_true",
                     help="add the app to the desktop's menus, with its icon, and open .keras "
                          "files with it (Linux; writes to ~/.local/share only)")
    app.add_argument("--uninstall-desktop-entry", action="store_true",
                     help="remove what --install-desktop-entry wrote")
    sub = parser.add_subparsers(dest="command", parser_class=Parser)
    for add in (_add_gui, _add_scan, _add_train, _add_predict, _add_evaluate, _add_review,
                _add_explain, _add_export, _add_cache):
        add(sub)
    return parser


def _add_gui(sub: Any) -> None:
    g = sub.add_parser("gui", help="open the desktop app (the default)")
    g.add_argument("--data", help="dataset folder to open in the Training tab")
    g.add_argument("--model", help="model file to load in the Inference tab")
    g.add_argument("--demo", action="store_true", help="open the bundled demo data set")
    g.add_argument(
        "--evaluate", metavar="DATA",
        help="open the Evaluation tab on this class-per-folder tree (with --model)",
    )
    g.add_argument("images", nargs="*", help="images or folders to classify at once")


def _add_scan(sub: Any) -> None:
    s = sub.add_parser("scan", help="check a dataset folder (one subfolder per class)")
    s.add_argument("data_dir")
    s.add_argument("--format", choices=("table", "json"), default="table")


def _add_train(sub: Any) -> None:
    """``train``: the data, the output and every setting of ``TRAIN_FLAGS``."""
    t = sub.add_parser("train", help="train a classifier on a dataset folder")
    flag = TRAIN_FLAGS  # every option that sets a TrainConfig field, named there
    t.add_argument("data_dir")
    t.add_argument("--out", required=True, help="where to save the model (.keras)")
    t.add_argument(
        flag["arch"], dest="arch",
        default="auto",
        help="auto (default: resnet50 with ImageNet weights when available, else resnet18), "
        + ", ".join(ARCHITECTURES),
    )
    t.add_argument(flag["weights"], dest="weights", default="auto",
                   help="auto | imagenet | none | PATH")
    t.add_argument(flag["image_size"], dest="image_size", type=positive_int,
                   help="input side in pixels (auto)")
    t.add_argument(flag["epochs"], dest="epochs", type=positive_int,
                   help="number of epochs (auto: up to 20-60, about 600 steps, stopping early "
                        "when learning levels off)")
    t.add_argument(flag["patience"], dest="patience", type=int, metavar="N",
                   help="stop early once the validation loss has not improved for N epochs "
                        "(after a short wind-down of the learning rate); 0: run every epoch. "
                        f"Default: {DEFAULT_PATIENCE} with automatic epochs from scratch; 0 with "
                        f"--epochs, pretrained weights or {FEW_IMAGES} or fewer images per class")
    t.add_argument(flag["batch_size"], dest="batch_size", type=positive_int, default=32,
                   help="the global batch: with several replicas (--strategy) each computes "
                        "batch/replicas images of it (default 32)")
    t.add_argument(flag["strategy"], dest="strategy", choices=STRATEGIES, default="auto",
                   help="where to train: one (one device), mirrored (every GPU of this machine), "
                        "multiworker (the machines in TF_CONFIG; run the same command on each), "
                        "auto (mirrored with 2+ GPUs, else one). See docs/scaling.md")
    t.add_argument(flag["learning_rate"], dest="learning_rate", type=float,
                   help="peak learning rate (auto)")
    t.add_argument(flag["stem_stride"], dest="stem_stride", type=int, choices=STEM_STRIDES,
                   help="ResNet-18/34 from scratch: the stem's down-sampling (auto: 1 up to 40 px, "
                        "2 up to 96 px, else 4 as in the paper)")
    _add_train_recipe(t)


def _add_train_recipe(t: argparse.ArgumentParser) -> None:
    """``train``'s validation, backbone, augmentation and continuation settings."""
    flag = TRAIN_FLAGS
    v = t.add_mutually_exclusive_group()
    v.add_argument(flag["val_split"], dest="val_split", type=fraction, default=0.2)
    v.add_argument(flag["val_dir"], dest="val_dir",
                   help="a separate validation folder with the same classes")
    f = t.add_mutually_exclusive_group()
    f.add_argument(flag["freeze_base"], dest="freeze_base",
                   action=argparse.BooleanOptionalAction, default=None,
                   help="train only the head (--no-freeze-base: train every layer; default: "
                        "frozen with pretrained weights)")
    f.add_argument(
        flag["fine_tune_blocks"], dest="fine_tune_blocks",
        type=int,
        default=0,
        metavar="N",
        help="after training the head, also fine-tune the top N residual blocks",
    )
    t.add_argument(
        flag["augment"], dest="augment",
        default="auto",
        help=f"comma list of {','.join(AUGMENTATIONS)}; 'all'; 'none'; or 'auto' (the default: "
        f"{AUTO_AUGMENT_SUMMARY})",
    )
    t.add_argument(
        flag["class_balance"], dest="class_balance", choices=CLASS_BALANCES, default="auto",
        help="classes of unequal size: 'weights' weighs each image's loss so that every class "
             "counts the same, 'none' does not; 'auto' (the default) is 'none', and says so "
             f"when the largest class has {BALANCE_RATIO:g} times the images of the smallest or "
             "more (measured: docs/recipe.md, 'Classes of unequal size')",
    )
    t.add_argument(flag["seed"], dest="seed", type=int, default=42)
    t.add_argument(
        flag["feature_views"], dest="feature_views", type=int, default=0, metavar="K",
        help="frozen backbone: also cache K augmented views of each training image (default 0)",
    )
    t.add_argument(
        "--no-feature-cache", action="store_true",
        help="frozen backbone: run the backbone every epoch instead of caching its features",
    )
    t.add_argument(flag["width"], dest="width", type=positive_int,
                   help="ResNet-18/34 first-stage width (auto)")
    t.add_argument(
        flag["init"], dest="init", metavar="MODEL",
        help="start from a model trained here: same classes train on (more epochs, new "
        "images); other classes get a new head on its backbone (e.g. to add a class)",
    )
    t.add_argument(
        flag["resume"], dest="resume", action="store_true",
        help="continue an interrupted run of the same DATA and --out from its last completed "
        "epoch (its settings are used; a checkpoint is written at every epoch's end)",
    )


def _add_predict(sub: Any) -> None:
    p = sub.add_parser("predict", help="classify images or folders")
    p.add_argument("model")
    p.add_argument("paths", nargs="+")
    p.add_argument("--top-k", type=positive_int, default=3)
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")
    p.add_argument("--batch-size", type=positive_int, default=32)
    p.add_argument(
        "--min-confidence", type=fraction, default=0.0, metavar="P",
        help="mark predictions whose top probability is below P as uncertain (with "
        "--sort-into: put them in OUT/_uncertain)",
    )
    p.add_argument(
        "--sort-into", metavar="OUT",
        help="copy each image into OUT/<predicted class>/ and record all in OUT/predictions.csv",
    )
    p.add_argument(
        "--move", action="store_true",
        help="with --sort-into: move instead of copy (a source is deleted only after its copy "
        "is verified)",
    )
    add_input_scale(p)


def _add_evaluate(sub: Any) -> None:
    e = sub.add_parser("evaluate", help="measure a model on a labelled dataset folder")
    e.add_argument("model")
    e.add_argument("data_dir")
    e.add_argument("--format", choices=("table", "json"), default="table")
    e.add_argument(
        "--robustness", action="store_true",
        help="also measure accuracy on corrupted copies (blur, darker, brighter, jpeg, noise, "
        "rotate; about 7x the time)",
    )

    add_input_scale(e)


def _add_review(sub: Any) -> None:
    r = sub.add_parser(
        "review", help="order unlabelled images by how much labelling each would help")
    r.add_argument("model")
    r.add_argument("paths", nargs="+", metavar="FOLDER", help="unlabelled images or folders")
    r.add_argument("--top", type=positive_int, metavar="N", help="print the first N only")
    r.add_argument("--format", choices=("table", "json", "csv"), default="table")
    r.add_argument("--labelled", metavar="DATA",
                   help="the data set already labelled: images like those rank lower")
    add_input_scale(r)


def _add_explain(sub: Any) -> None:
    x = sub.add_parser("explain", help="show where the model looked (Grad-CAM overlays)")
    x.add_argument("model")
    x.add_argument("images", nargs="+", help="images or folders")
    x.add_argument(
        "--out", required=True, metavar="PATH",
        help="the overlay PNG for one image; a folder for several",
    )
    x.add_argument("--class", dest="label", metavar="LABEL",
                   help="explain this class (default: the predicted one)")
    x.add_argument("--heatmap", action="store_true",
                   help="also write the raw heat-map as <stem>_heatmap.png (8-bit greyscale)")
    add_input_scale(x)


def _add_export(sub: Any) -> None:
    o = sub.add_parser("export", help="export a model to SavedModel, TFLite or ONNX")
    o.add_argument("model")
    o.add_argument("--format", required=True, choices=tuple(EXPORT_FORMATS))
    o.add_argument("--out", required=True, metavar="PATH",
                   help="a folder (savedmodel) or a .tflite / .onnx file")
    o.add_argument("--check", metavar="DATA",
                   help="run the export in its own runtime on these images and compare with the "
                   "model (exit 1 below 0.99 top-1 agreement, 0.97 for int8)")
    o.add_argument("--int8", action="store_true",
                   help="tflite: quantise to int8 (needs --calibration)")
    o.add_argument("--calibration", metavar="DATA",
                   help="typical images used to quantise an int8 model")
    add_input_scale(o)


def _add_cache(sub: Any) -> None:
    c = sub.add_parser("cache", help="show or clear the feature cache")
    c.add_argument("action", choices=("info", "clear"))
