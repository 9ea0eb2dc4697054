"""The student's network as the checks compute with it: its two Linear layers, found in its
state dict (plain data read from the kernel) by their shapes, and the outputs the checker
computes from them. Shared by the checks of parts 3 and 4."""
from dataclasses import dataclass

import torch

from dropout_kit.checking import fail

# Where the checks compare a network's outputs with their computation: the lecture's x range.
GRID = torch.linspace(0, 1, 200).reshape(-1, 1)
# How closely the kernel's outputs must agree with the checker's computation from the
# net's weights (the same float32 operations, so in practice exactly).
RECOMPUTED = dict(rtol=1e-5, atol=1e-6)
# Part 3's finding, which part 4 follows (Notebook.findings): whether the net's evaluation
# mode computed Linear → ReLU → Linear of its weights when part 3 asked, twice, the same.
LECTURE_EVALUATION = "evaluation mode is the lecture's Linear → ReLU → Linear"


@dataclass
class Linears:
    """The net's input and output layers, found in its state dict by their shapes."""
    first: str  # module path of Linear(1→h)
    last: str  # module path of Linear(h→1)
    w1: torch.Tensor
    b1: torch.Tensor | None
    w2: torch.Tensor
    b2: torch.Tensor | None

    def hidden(self, x):
        """W1·x + b1, computed here."""
        return torch.nn.functional.linear(x.to(self.w1.dtype), self.w1, self.b1)

    def output(self, hidden):
        return torch.nn.functional.linear(hidden.to(self.w2.dtype), self.w2, self.b2)

    def evaluation(self, x):
        """The net's evaluation-mode output, computed here: Linear → ReLU → Linear."""
        return self.output(torch.relu(self.hidden(x)))


def weights(state) -> dict[str, tuple[int, int]]:
    """Module path → (in, out) of every 2-d weight in a state dict (the Linear layers)."""
    found = {}
    for key, value in state.items():
        path, _, name = key.rpartition(".")
        if name == "weight" and isinstance(value, torch.Tensor) and value.dim() == 2:
            found[path] = (value.shape[1], value.shape[0])
    return found


def find_linears(state, whose="net") -> Linears | str:
    """The input layer Linear(1→h) and output layer Linear(h→1) in `state`, or what is wrong."""
    found = weights(state)
    firsts = [p for p, (i, o) in found.items() if i == 1 and o != 1]
    lasts = [p for p, (i, o) in found.items() if o == 1 and i != 1]
    if len(firsts) != 1:
        return f"{whose} 에서 입력층 Linear(1→512) 을 (하나만) 찾지 못했습니다."
    if len(lasts) != 1:
        return f"{whose} 에서 출력층 Linear(512→1) 을 (하나만) 찾지 못했습니다."
    first, last = firsts[0], lasts[0]
    h = found[first][1]
    if found[last][0] != h:
        return f"{whose} 의 입력층 출력 노드 수({h})와 출력층 입력 노드 수({found[last][0]})가 다릅니다."
    w1, w2 = (state[f"{p}.weight" if p else "weight"] for p in (first, last))
    biases = [state.get(f"{p}.bias" if p else "bias") for p in (first, last)]
    for path, value, size in ((first, biases[0], h), (last, biases[1], 1)):
        if value is not None and (not isinstance(value, torch.Tensor) or tuple(value.shape) != (size,)):
            return f"{whose} 의 `{path}.bias` shape 이 ({size},) 이 아닙니다."
    return Linears(first, last, w1, biases[0], w2, biases[1])


def linears(state, whose="net") -> Linears:
    """find_linears, or a failed check saying what is wrong."""
    found = find_linears(state, whose)
    if isinstance(found, str):
        fail(found)
    return found


def has_nan(state) -> bool:
    return any(v.is_floating_point() and bool(torch.isnan(v).any()) for v in state.values()
               if isinstance(v, torch.Tensor))


def finite_state(state, whose="net"):
    if any(v.is_floating_point() and not bool(torch.isfinite(v).all()) for v in state.values()
           if isinstance(v, torch.Tensor)):
        fail(f"{whose} 의 가중치에 NaN 이나 inf 값이 있습니다.")
    return state
