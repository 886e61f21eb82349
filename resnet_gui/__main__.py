"""`python -m resnet_gui` is the same as the `resnet-gui` command."""

from resnet_gui.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
