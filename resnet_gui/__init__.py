"""resnet-gui: train and use ResNet image classifiers from a desktop app or the command line."""

__version__ = "0.1.0"
