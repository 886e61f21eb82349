"""Keep resnet_gui's Python source beside its compiled modules in the app bundle: TensorFlow's
AutoGraph reads the source of the functions it converts (without it, every `tf.function` logs
"AutoGraph could not transform ... and will run it as-is")."""

module_collection_mode = "pyz+py"
