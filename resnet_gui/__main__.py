"""`python -m resnet_gui` is the same as the `resnet-gui` command (and the app bundle's entry)."""

from resnet_gui.cli import main

if __name__ == "__main__":
    import multiprocessing

    # In the app bundle, the training child (a spawned process) re-enters here: run it.
    multiprocessing.freeze_support()
    raise SystemExit(main())
