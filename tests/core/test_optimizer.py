"""The optimizer every training compiles with: Keras' AdamW, its update traced as one fused op."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from resnet_gui.core.base.tfsetup import import_keras

# Keras' AdamW and the fused one, trained side by side on the same seeded gradients (a learning
# rate that changes between steps, as the Runner's schedule does): after every step the same
# values, slots and step count; ``strategy`` makes the replicas (their gradients are summed).
# Prints the fused step's op types, one per line, when all agree.
SIDE_BY_SIDE = '''
import numpy as np
from resnet_gui.core.base.tfsetup import import_keras, import_tensorflow
tf = import_tensorflow()
{setup}
keras = import_keras()
from resnet_gui.core.train.optimizer import make_optimizer

def trainer(make):
    rng = np.random.default_rng(0)
    with strategy.scope():  # an optimizer is made in the scope of its strategy
        variables = [keras.Variable(rng.normal(size=s).astype("float32")) for s in ((3, 4), (4,))]
        optimizer = make()
        optimizer.build(variables)

    @tf.function
    def step(grads):
        def replica(grads):
            with tf.GradientTape() as tape:
                loss = tf.add_n([tf.reduce_sum(v * g) for v, g in zip(variables, grads)])
            optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        strategy.run(replica, args=(grads,))
    return optimizer, variables, step

by_keras, kv, kstep = trainer(lambda: keras.optimizers.AdamW(1e-2, weight_decay=4e-2))
fused, fv, fstep = trainer(lambda: make_optimizer(1e-2, 4e-2))
start = [np.asarray(v.numpy()) for v in kv]
rng = np.random.default_rng(1)
for i in range(6):
    grads = [tf.constant(rng.normal(size=v.shape).astype("float32")) for v in kv]
    for optimizer, step in ((by_keras, kstep), (fused, fstep)):
        optimizer.learning_rate.assign(1e-2 * (1 + i % 3))
        step(grads)
    for a, b in zip(fv + fused.variables, kv + by_keras.variables):
        np.testing.assert_allclose(np.asarray(a.numpy()), np.asarray(b.numpy()), rtol=1e-5,
                                   atol=1e-6, err_msg=f"step {{i + 1}}")
assert all(np.abs(np.asarray(v.numpy()) - s).max() > 1e-2 for v, s in zip(kv, start))
specs = [tf.TensorSpec(v.shape) for v in fv]
for op in fstep.get_concrete_function(specs).graph.get_operations():
    print(op.type)
for op in kstep.get_concrete_function(specs).graph.get_operations():
    assert op.type != "ResourceApplyAdam"
'''

ONE_DEVICE = "strategy = tf.distribute.get_strategy()"
TWO_REPLICAS = (
    "cpu = tf.config.list_physical_devices('CPU')[0]\n"
    "tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] "
    "* 2)\n"
    "strategy = tf.distribute.MirroredStrategy(['/cpu:0', '/cpu:1'])"
)


def _fused_ops(setup: str) -> list[str]:
    """The fused step's op types, after SIDE_BY_SIDE found both optimizers alike."""
    done = subprocess.run([sys.executable, "-c", SIDE_BY_SIDE.format(setup=setup)],
                          capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.split()


def test_the_fused_update_is_keras_adamw_step_for_step() -> None:
    ops = _fused_ops(ONE_DEVICE)
    assert ops.count("ResourceApplyAdam") == 2  # one per variable


@pytest.mark.slow
def test_the_fused_update_is_keras_adamw_on_two_replicas() -> None:
    """Under tf.distribute the update runs once per device, on that device's copies."""
    ops = _fused_ops(TWO_REPLICAS)
    assert ops.count("ResourceApplyAdam") == 4  # one per variable on each replica


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
