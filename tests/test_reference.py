"""The lecture's trained networks stored for the hidden checks are the lecture's training."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from dropout_kit import reference

STORED = Path(__file__).resolve().parent.parent / "grader_tests" / "lecture_networks.pt"


@pytest.mark.parametrize("dropout", [True, False], ids=["dropout", "no-dropout"])
def test_stored_network_is_the_lecture_training(dropout):
    assert STORED.is_file(), "regenerate with: python -m dropout_kit.reference grader_tests/lecture_networks.pt"
    fresh, stored = reference.trained_network(dropout), reference.stored_network(dropout, STORED)
    for (name, a), (_, b) in zip(fresh.state_dict().items(), stored.state_dict().items()):
        assert torch.allclose(a, b, rtol=1e-3, atol=1e-4), name
    assert reference.eval_mse(stored) == pytest.approx(reference.eval_mse(fresh), rel=1e-3)


def test_dropout_beats_no_dropout_on_the_stored_networks():
    """The lecture's claim the hidden check relies on (8.1e-5 against 2.3e-3)."""
    mse = {d: reference.eval_mse(reference.stored_network(d, STORED)) for d in (True, False)}
    assert mse[True] < mse[False] / 10
