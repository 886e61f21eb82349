"""The optimizer every training compiles with: Keras' ``AdamW``, whose per-variable update is
traced as TensorFlow's one fused Adam op instead of Keras' twenty-odd small ones.

Why: tracing the first training step is most of a small training's cost, and Keras' Adam
update was a third of that trace (ResNet-18: 3.6 s of 10.6 s, py-spy on 2 cores). The
arithmetic is Adam's own, as Keras writes it::

    m += (g - m)(1 - beta_1);  v += (g^2 - v)(1 - beta_2)
    w -= lr * sqrt(1 - beta_2^t) / (1 - beta_1^t) * m / (sqrt(v) + epsilon)

with ``t`` the step number from 1, and AdamW's decoupled weight decay applied by Keras before
it, as ever. The faster update is set on the optimizer *instance*, not as a subclass, so a saved
model still names plain ``AdamW`` and loads in any Keras.
"""

from __future__ import annotations

from typing import Any

from resnet_gui.core.model.build import keras_module


def make_optimizer(learning_rate: float, weight_decay: float) -> Any:
    """Keras ``AdamW`` with ``learning_rate`` and ``weight_decay``, its update fused on
    TensorFlow (any other backend keeps Keras' own)."""
    keras = keras_module()
    optimizer = keras.optimizers.AdamW(learning_rate=learning_rate, weight_decay=weight_decay)
    if keras.backend.backend() == "tensorflow" and not optimizer.amsgrad:
        optimizer.update_step = _fused_update(optimizer)
    return optimizer


def _fused_update(optimizer: Any) -> Any:
    """An ``update_step`` for ``optimizer`` that makes one ``ResourceApplyAdam`` op per variable.

    It runs where Keras' own runs: inside ``tf.distribute``'s per-device update, where a slot's
    ``handle`` is that device's copy. Sparse gradients (none in a ResNet) keep Keras' update.
    """
    from resnet_gui.core.base.tfsetup import import_tensorflow

    tf = import_tensorflow()
    keras_update = type(optimizer).update_step

    def update_step(gradient: Any, variable: Any, learning_rate: Any) -> None:
        if isinstance(gradient, tf.IndexedSlices):
            keras_update(optimizer, gradient, variable, learning_rate)
            return
        index = optimizer._get_variable_index(variable)
        m, v = optimizer._momentums[index], optimizer._velocities[index]
        dtype = variable.dtype

        def cast(value: Any) -> Any:
            return tf.cast(value, dtype)

        step = cast(optimizer.iterations) + 1
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle, m=m.value.handle, v=v.value.handle,
            beta1_power=tf.pow(cast(optimizer.beta_1), step),
            beta2_power=tf.pow(cast(optimizer.beta_2), step),
            lr=cast(learning_rate), beta1=cast(optimizer.beta_1), beta2=cast(optimizer.beta_2),
            epsilon=cast(optimizer.epsilon), grad=cast(gradient), use_locking=False,
        )

    return update_step
