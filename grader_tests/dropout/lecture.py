"""The lecture's data, split and networks, made the way the lecture makes them.

The hidden checks compare against these and feed them to a student's code, so that a
part is judged on the lecture's inputs rather than on what an earlier part produced.
Global random state is left as it was. This lives with the hidden checks, not in the
installable package: the package is installed where students' kernels run.

`python grader_tests/dropout/lecture.py grader_tests/dropout/lecture_networks.pt` rewrites the stored
trained networks (tests/test_reference.py compares them with a fresh training).
"""
from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path

import torch

N_TRAIN = 80
HIDDEN = 512
DROPOUT_P = 0.8
EPOCHS = 1000


@lru_cache(maxsize=None)
def _data() -> tuple[torch.Tensor, torch.Tensor]:
    with torch.random.fork_rng():
        torch.manual_seed(5)
        x = torch.linspace(0, 1, 100).reshape(100, 1)
        y = torch.randn(100).reshape(100, 1) * 0.01
    return x, y


def data() -> tuple[torch.Tensor, torch.Tensor]:
    """Fresh copies of the lecture's x and y."""
    x, y = _data()
    return x.clone(), y.clone()


def split() -> dict[str, torch.Tensor]:
    x, y = data()
    return {"x": x, "y": y, "xtr": x[:N_TRAIN], "ytr": y[:N_TRAIN],
            "xtest": x[N_TRAIN:], "ytest": y[N_TRAIN:]}


def _build(dropout: bool) -> torch.nn.Sequential:
    layers = [torch.nn.Linear(1, HIDDEN), torch.nn.ReLU()]
    if dropout:
        layers.append(torch.nn.Dropout(DROPOUT_P))
    layers.append(torch.nn.Linear(HIDDEN, 1))
    return torch.nn.Sequential(*layers)


def network(dropout: bool, seed: int = 1) -> torch.nn.Sequential:
    """The lecture's network, untrained: Linear(1,512) → ReLU → [Dropout(0.8)] → Linear(512,1)."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return _build(dropout)


@lru_cache(maxsize=None)
def _trained_state(dropout: bool) -> dict:
    """Trained exactly as the lecture does: seed 1, build, 1000 epochs of Adam on (xtr, ytr)."""
    xtr, ytr = split()["xtr"], split()["ytr"]
    with torch.random.fork_rng():
        torch.manual_seed(1)
        net = _build(dropout)
        loss_fn = torch.nn.MSELoss()
        optimizer = torch.optim.Adam(net.parameters())
        for _ in range(EPOCHS):
            loss = loss_fn(net(xtr), ytr)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def trained_network(dropout: bool) -> torch.nn.Sequential:
    """The lecture's network trained as in the lecture (cached for the kernel's life)."""
    net = network(dropout)
    net.load_state_dict(_trained_state(dropout))
    return net


# The two trained networks, stored (grader_tests/dropout/lecture_networks.pt) so that the checks
# load them instead of training them again: grading uses the stored file, never a fresh
# training, because 1000 Adam steps end in different weights on different processors.
STORED_KEYS = {True: "dropout", False: "no_dropout"}


def save_trained_networks(path: Path) -> None:
    torch.save({key: _trained_state(dropout) for dropout, key in STORED_KEYS.items()}, path)


@lru_cache(maxsize=None)
def _stored_states(path: Path) -> dict:
    return torch.load(path, weights_only=True)


STORED = Path(__file__).resolve().parent / "lecture_networks.pt"


def stored_network(dropout: bool, path: Path = STORED) -> torch.nn.Sequential:
    """The lecture's trained network as stored at `path`."""
    net = network(dropout)
    net.load_state_dict(_stored_states(path)[STORED_KEYS[dropout]])
    return net


def eval_mse(net: torch.nn.Module) -> float:
    s = split()
    net.eval()
    with torch.no_grad():
        return torch.nn.functional.mse_loss(net(s["xtest"]), s["ytest"]).item()


if __name__ == "__main__":
    save_trained_networks(Path(sys.argv[1]))
