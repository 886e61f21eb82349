"""`python -m resnet_gui` is the same as the `resnet-gui` command (and the app bundle's entry)."""

if __name__ == "__main__":
    import multiprocessing

    # In the app bundle, the training child (a spawned process) re-enters here: it runs before
    # the command line is even imported.
    multiprocessing.freeze_support()
    from resnet_gui.cli import main

    raise SystemExit(main())
