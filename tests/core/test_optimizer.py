"""The optimizer every training compiles with: Keras' AdamW, its update traced as one fused op."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from resnet_gui.core.base.tfsetup import import_keras, import_tensorflow
from resnet_gui.core.train.optimizer import make_optimizer


def _train(optimizer: object, steps: int = 6) -> tuple[list[np.ndarray], list[np.ndarray], set]:
    """(start values, values after ``steps`` steps of seeded gradients on a falling-and-rising
    learning rate, the traced step's op types)."""
    tf, keras = import_tensorflow(), import_keras()
    rng = np.random.default_rng(0)
    variables = [keras.Variable(rng.normal(size=shape).astype("float32"))
                 for shape in ((3, 4), (4,))]
    start = [np.asarray(v.numpy()) for v in variables]
    optimizer.build(variables)  # type: ignore[attr-defined]

    @tf.function
    def step(grads: list) -> None:
        optimizer.apply_gradients(zip(grads, variables, strict=True))  # type: ignore[attr-defined]

    for i in range(steps):
        optimizer.learning_rate.assign(1e-2 * (1 + (i % 3)))  # type: ignore[attr-defined]
        step([tf.constant(rng.normal(size=v.shape).astype("float32")) for v in variables])
    graph = step.get_concrete_function([tf.TensorSpec(v.shape) for v in variables]).graph
    return start, [np.asarray(v.numpy()) for v in variables], {
        op.type for op in graph.get_operations()}


def test_the_fused_update_is_keras_adamw_step_for_step() -> None:
    keras = import_keras()
    start, by_keras, keras_ops = _train(keras.optimizers.AdamW(1e-2, weight_decay=4e-2))
    _, fused, fused_ops = _train(make_optimizer(1e-2, 4e-2))
    assert "ResourceApplyAdam" in fused_ops and "ResourceApplyAdam" not in keras_ops
    for a, b, before in zip(fused, by_keras, start, strict=True):
        assert np.abs(b - before).max() > 1e-2  # the steps moved the variables
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_a_model_trained_with_it_names_plain_adamw(tmp_path: Path) -> None:
    """The fused update lives on the instance: the saved model loads, compiled, in any Keras."""
    keras = import_keras()
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    model.compile(optimizer=make_optimizer(1e-3, 1e-4), loss="mse")
    model.fit(np.ones((8, 4)), np.ones((8, 2)), verbose=0)
    model.save(tmp_path / "m.keras")
    back = keras.saving.load_model(tmp_path / "m.keras")
    assert type(back.optimizer) is keras.optimizers.AdamW
    assert back.optimizer.weight_decay == model.optimizer.weight_decay
