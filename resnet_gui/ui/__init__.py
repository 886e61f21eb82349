"""The desktop app (PySide6). Importing this package never imports TensorFlow."""
