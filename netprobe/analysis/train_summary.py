"""``summary --mode train``: a Summary's companion with the training step's counts, predicted memory and fit."""

from __future__ import annotations

from dataclasses import dataclass

from netprobe.analysis.result import ROWS
from netprobe.analysis.train import TrainCounts, train_counts
from netprobe.analysis.train_memory import Fit, TrainMemory, fit, parse_optimizer, train_memory
from netprobe.errors import NetprobeError

MODES = ("infer", "train")  # infer: the forward only (today's summary); train: forward + backward, memory
# The rows of mode train: the backward of each row beside its forward (``macs``), in the convention's unit
TRAIN_ROWS = ROWS[:ROWS.index("macs") + 1] + ["train_backward"] + ROWS[ROWS.index("macs") + 1:]


@dataclass(frozen=True)
class TrainSummary:
    """A Summary (the forward, as in mode infer) and one training step of the same model at its batch."""

    summary: object  # analysis.result.Summary
    counts: TrainCounts
    memory: TrainMemory
    fit: Fit | None = None  # with a memory budget

    def backward_of(self, name: str) -> int:
        """Backward count at the summary's batch of a row: the layer of that name, or the layers inside it."""
        inside = name + "."
        return self.counts.batch * sum(t.backward for t in self.counts.layers
                                       if t.name == name or t.name.startswith(inside))

    def stage_backward(self, name: str) -> int:
        """Backward count at the batch of a stage (its layers need not be named under it: a hub model's)."""
        return next((b for n, _, b in self.counts.stages if n == name), 0)

    def records(self, depth: int | None = None) -> list[dict]:
        """The summary's rows (the CSV and JSON schema, ``TRAIN_ROWS``), each with its backward at the batch."""
        backward = self.stage_backward if depth == 1 else self.backward_of
        return [{**r, "train_backward": backward(r["name"])} for r in self.summary.records(depth)]

    def to_dict(self, depth: int | None = None) -> dict:
        """The summary's JSON object with the training fields; each stage gains its forward and backward."""
        obj = self.summary.to_dict(depth)
        obj["mode"] = "train"
        obj["layers"] = self.records(depth)
        train = self.counts.to_dict()
        obj.update({k: train[k] for k in ("train_forward", "train_backward", "train_total")})
        split = {n: (f, b) for n, f, b in self.counts.stages}
        for stage in obj["stages"]:
            stage["train_forward"], stage["train_backward"] = split.get(stage["name"], (0, 0))
        memory = _plain(self.memory)
        obj["train_memory_bytes"] = memory["train_memory_bytes"]
        obj["train_memory"] = memory
        if self.fit is not None:
            obj["fit_budget_bytes"] = self.fit.budget_bytes
            obj["fit_batch"] = self.fit.fit_batch
            obj["fit_memory"] = _plain(self.fit.memory)
        return obj


def _plain(memory: TrainMemory) -> dict:
    """A prediction as JSON has it: its stages a list, as the command prints them."""
    obj = memory.to_dict()
    obj["stages"] = list(obj["stages"])
    return obj


def train_summary(s, model, optimizer: str | None = None, budget=None, resolution: int | None = None,
                  input_size=None) -> TrainSummary:
    """The training step of ``model`` at the batch and convention of its summary ``s``."""
    optimizer = parse_optimizer(optimizer)
    counts = train_counts(model, s.convention, resolution, s.batch, input_size)
    memory = train_memory(model, s.batch, optimizer, resolution, input_size)
    found = None if budget is None else fit(model, budget, optimizer, resolution, input_size)
    return TrainSummary(s, counts, memory, found)


def parse_mode(mode: str | None) -> str:
    """A summary mode of ``MODES`` (None: infer); anything else is a one-line NetprobeError."""
    key = "infer" if mode is None else str(mode).strip().lower()
    if key not in MODES:
        raise NetprobeError(f"unknown mode '{mode}'; choose infer or train")
    return key
