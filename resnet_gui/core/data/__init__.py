"""Images and data sets: the decoder, the scan of a class-per-folder tree, the split,
near-duplicates, corruptions, and the ``tf.data`` pipeline. Imports only ``core.base``."""
