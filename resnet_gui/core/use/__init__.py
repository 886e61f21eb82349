"""Using a trained model: the classifier, evaluation, Grad-CAM, export and its check, sorting
into folders, and Keras' stock ImageNet model. Imports ``core.base``, ``core.data`` and
``core.model``, never ``core.train``.

``from resnet_gui.core.use import Classifier`` is the scripting entry point.
"""

from resnet_gui.core.use.inference import Classifier, Prediction

__all__ = ["Classifier", "Prediction"]
