"""What every other part of the core stands on: the error types, the settings and progress
events (``config``), the one place TensorFlow is imported (``tfsetup``), calibration maths,
text formats, shipped files and atomic writes. Imports nothing else of the core."""
