"""The learning-rate schedule and early stopping (core.train.schedule), without training."""

from __future__ import annotations

import math

import pytest

from resnet_gui.core.train.schedule import MIN_STEPS, Schedule, decay_epochs


def test_fixed_length_schedule_is_the_keras_cosine_with_warmup() -> None:
    """patience 0 is the recipe's former schedule, step for step."""
    from resnet_gui.core.model.build import keras_module

    keras = keras_module()
    steps, epochs, warmup, peak = 5, 12, 5, 2e-3
    reference = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=peak * 0.1, decay_steps=steps * epochs - warmup, alpha=0.01,
        warmup_target=peak, warmup_steps=warmup,
    )
    s = Schedule(peak=peak, steps_per_epoch=steps, epochs=epochs, warmup_steps=warmup)
    for step in range(steps * epochs):
        assert s.learning_rate(step) == pytest.approx(float(reference(step)), rel=1e-5)
    assert s.end_epoch == epochs
    assert all(s.observe(e, 1.0) is None for e in range(1, epochs + 1))  # never stops early


def _run(s: Schedule, losses: list[float]) -> tuple[int, list[str]]:
    messages = []
    for epoch, loss in enumerate(losses, start=1):
        m = s.observe(epoch, loss)
        if m:
            messages.append(m)
        if s.finished(epoch):
            return epoch, messages
    return len(losses), messages


def test_a_plateau_winds_the_rate_down_and_ends_the_run() -> None:
    s = Schedule(peak=1e-3, steps_per_epoch=10, epochs=60, warmup_steps=10, patience=6)
    losses = [1.0 / e for e in range(1, 13)] + [0.2] * 48  # best at epoch 12, flat after
    end, messages = _run(s, losses)
    assert len(messages) == 1
    assert messages[0].startswith("validation loss has not improved for 6 epochs")
    assert end == 18 + decay_epochs(18, 10) < 60
    # the peak is held until the plateau, then a cosine falls to 1 % of it at the end
    assert s.learning_rate(17 * 10) == pytest.approx(1e-3)
    assert s.learning_rate(end * 10) == pytest.approx(1e-5)
    rates = [s.learning_rate(k) for k in range(180, end * 10 + 1)]
    assert all(a >= b for a, b in zip(rates, rates[1:], strict=False))


def test_no_stop_before_the_batchnorm_statistics_settle() -> None:
    """A flat validation loss from the start ends nothing before MIN_STEPS steps."""
    s = Schedule(peak=1e-3, steps_per_epoch=2, epochs=60, warmup_steps=2, patience=3)
    end, _ = _run(s, [1.0] * 60)
    assert s.min_epochs == math.ceil(MIN_STEPS / 2)
    first_decay_step = s.decay_start
    assert first_decay_step is not None and first_decay_step >= MIN_STEPS
    assert end < 60


def test_improving_runs_use_every_epoch_and_still_end_on_a_low_rate() -> None:
    s = Schedule(peak=1e-3, steps_per_epoch=10, epochs=30, warmup_steps=10, patience=5)
    end, messages = _run(s, [1.0 / e for e in range(1, 31)])
    assert (end, messages) == (30, [])
    assert s.learning_rate(299) == pytest.approx(1e-5, rel=0.1)
    assert s.learning_rate(200) == pytest.approx(1e-3)  # held before the final stretch


def test_state_round_trip_continues_the_same_schedule() -> None:
    a = Schedule(peak=1e-3, steps_per_epoch=4, epochs=60, warmup_steps=4, patience=4)
    losses = [1.0 / e for e in range(1, 10)] + [0.2] * 51
    for epoch in range(1, 20):
        a.observe(epoch, losses[epoch - 1])
    b = Schedule(peak=1e-3, steps_per_epoch=4, epochs=60, warmup_steps=4, patience=4)
    b.restore(a.state())
    assert b.end_epoch == a.end_epoch < 60
    assert [b.learning_rate(k) for k in range(240)] == [a.learning_rate(k) for k in range(240)]
