"""The optimizer every training compiles with: Keras' AdamW, its update traced as one fused op."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from resnet_gui.core.base.tfsetup import import_keras, import_tensorflow


def side_by_side(strategy: Any) -> list[str]:
    """Keras' AdamW and the fused one, trained side by side on the same seeded gradients (a
    learning rate that changes between steps, as the Runner's schedule does), each on its own
    variables in ``strategy``'s scope (the replicas' gradients are summed). After every step
    both hold the same values, slots and step count. Returns the fused step's op types."""
    from resnet_gui.core.train.optimizer import make_optimizer

    tf, keras = import_tensorflow(), import_keras()

    def trainer(make: Any) -> tuple[Any, list, Any]:
        rng = np.random.default_rng(0)
        with strategy.scope():  # an optimizer is made in the scope of its strategy
            variables = [keras.Variable(rng.normal(size=shape).astype("float32"))
                         for shape in ((3, 4), (4,))]
            optimizer = make()
            optimizer.build(variables)

        @tf.function
        def step(grads: list) -> None:
            def replica(grads: list) -> None:
                with tf.GradientTape() as tape:
                    loss = tf.add_n([tf.reduce_sum(v * g)
                                     for v, g in zip(variables, grads, strict=True)])
                optimizer.apply_gradients(
                    zip(tape.gradient(loss, variables), variables, strict=True))

            strategy.run(replica, args=(grads,))

        return optimizer, variables, step

    by_keras, kept, keras_step = trainer(
        lambda: keras.optimizers.AdamW(1e-2, weight_decay=4e-2))
    fused, mine, fused_step = trainer(lambda: make_optimizer(1e-2, 4e-2))
    start = [np.asarray(v.numpy()) for v in kept]
    rng = np.random.default_rng(1)
    for i in range(6):
        grads = [tf.constant(rng.normal(size=v.shape).astype("float32")) for v in kept]
        for optimizer, step in ((by_keras, keras_step), (fused, fused_step)):
            optimizer.learning_rate.assign(1e-2 * (1 + i % 3))
            step(grads)
        for a, b in zip(mine + fused.variables, kept + by_keras.variables, strict=True):
            np.testing.assert_allclose(np.asarray(a.numpy()), np.asarray(b.numpy()), rtol=1e-5,
                                       atol=1e-6, err_msg=f"step {i + 1}")
    assert all(np.abs(np.asarray(v.numpy()) - s).max() > 1e-2 for v, s in zip(kept, start,
                                                                                strict=True))
    specs = [tf.TensorSpec(v.shape) for v in mine]
    keras_ops = [op.type for op in keras_step.get_concrete_function(specs).graph.get_operations()]
    assert "ResourceApplyAdam" not in keras_ops
    return [op.type for op in fused_step.get_concrete_function(specs).graph.get_operations()]


# Two logical CPU devices must be made before TensorFlow starts: in a child process.
TWO_REPLICAS = (
    "from resnet_gui.core.base.tfsetup import import_tensorflow\n"
    "tf = import_tensorflow()\n"
    "cpu = tf.config.list_physical_devices('CPU')[0]\n"
    "tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()]"
    " * 2)\n"
    "from tests.core.test_optimizer import side_by_side\n"
    "print(*side_by_side(tf.distribute.MirroredStrategy(['/cpu:0', '/cpu:1'])))\n"
)


def test_the_fused_update_is_keras_adamw_step_for_step() -> None:
    ops = side_by_side(import_tensorflow().distribute.get_strategy())
    assert ops.count("ResourceApplyAdam") == 2  # one per variable


@pytest.mark.slow
def test_the_fused_update_is_keras_adamw_on_two_replicas() -> None:
    """Under tf.distribute the update runs once per device, on that device's copies."""
    done = subprocess.run([sys.executable, "-c", TWO_REPLICAS], capture_output=True, text=True,
                          timeout=300, cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split().count("ResourceApplyAdam") == 4  # one per variable and device


def test_a_model_trained_with_it_names_plain_adamw(tmp_path: Path) -> None:
    """The fused update lives on the instance: the saved model loads, compiled, in any Keras."""
    from resnet_gui.core.train.optimizer import make_optimizer

    keras: Any = import_keras()
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    model.compile(optimizer=make_optimizer(1e-3, 1e-4), loss="mse")
    model.fit(np.ones((8, 4)), np.ones((8, 2)), verbose=0)
    model.save(tmp_path / "m.keras")
    back = keras.saving.load_model(tmp_path / "m.keras")
    assert type(back.optimizer) is keras.optimizers.AdamW
    assert back.optimizer.weight_decay == model.optimizer.weight_decay
