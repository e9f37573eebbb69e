"""The training step split into forward, backward and optimizer phases."""

import time

import torch
from torch import nn

from netprobe.timing.modes import sgd
from netprobe.timing.phases import sample_phases


def _model():
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 14 * 14, 10)).train()


def test_each_sample_has_three_phases_that_fit_inside_the_wall_time():
    model, x = _model(), torch.randn(4, 3, 16, 16)
    start = time.perf_counter()
    t = sample_phases(model, x, "cpu", optimizer=sgd(model), samples=5, warmup=1)
    wall_ms = (time.perf_counter() - start) * 1e3
    assert len(t.forward) == len(t.backward) == len(t.optimizer) == 5
    assert all(ms > 0 for ms in (*t.forward, *t.backward, *t.optimizer))
    assert sum(t.forward) + sum(t.backward) + sum(t.optimizer) < wall_ms
    assert set(t.medians()) == {"forward_ms", "backward_ms", "optimizer_ms"}


def test_the_phases_are_a_real_step_and_without_an_optimizer_there_is_no_optimizer_phase():
    model, x = _model(), torch.randn(4, 3, 16, 16)
    before = [p.detach().clone() for p in model.parameters()]
    sample_phases(model, x, "cpu", optimizer=sgd(model), samples=2, warmup=0)
    assert any(not torch.equal(a, p) for a, p in zip(before, model.parameters()))  # the optimizer stepped
    t = sample_phases(model, x, "cpu", samples=3, warmup=0)
    assert t.optimizer == () and t.optimizer_ms == 0.0 and len(t.backward) == 3
    assert all(p.grad is not None for p in model.parameters())  # the backward ran
