"""Networks and model files: the architectures, ImageNet weights, building a ResNet with its
preprocessing and model card, opening and saving model files, a classifier's chain of layers,
and the memory estimate. Imports only ``core.base``."""
