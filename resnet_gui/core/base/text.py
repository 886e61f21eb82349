"""Plain-text formatting shared by the CLI and the GUI's log panel (so both print the same lines)."""

from __future__ import annotations


def format_duration(seconds: float) -> str:
    """'1:05' below an hour, '1:02:03' above."""
    s = int(max(0, seconds))
    if s < 3600:
        return f"{s // 60}:{s % 60:02d}"
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def format_epoch_line(stats: dict) -> str:
    """The one-line summary of an epoch, as ``train`` reports it to ``on_epoch``."""
    val = ""
    if stats.get("val_accuracy") is not None:
        val = f"  val_loss {stats['val_loss']:.4f}  val_acc {stats['val_accuracy']:.4f}"
    star = "  *best*" if stats.get("best") else ""
    return (
        f"epoch {stats['epoch']:>3}/{stats['epochs']}  loss {stats['loss']:.4f}  acc "
        f"{stats['accuracy']:.4f}{val}  ({stats['seconds']:.1f} s){star}"
    )
