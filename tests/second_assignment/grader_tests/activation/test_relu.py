"""relu(x): the input's negative values replaced by 0, as a new tensor of its shape."""
import pytest
import torch

from dropout_kit.checking import fail, function


@pytest.fixture
def relu(student):
    return function(student, "relu")


@pytest.mark.points(1)
def test_values(relu):
    """음수는 0, 0 이상은 그대로"""
    x = torch.linspace(-2, 2, 41)
    out = relu(x)
    if not torch.equal(out, x.clamp(min=0)):
        fail("relu(x) 가 음수를 0으로, 나머지는 그대로 두지 않습니다.")


@pytest.mark.points(1)
def test_shape_kept(relu):
    """입력의 shape을 유지"""
    x = torch.linspace(-1, 1, 12).reshape(3, 4)
    shape = tuple(relu(x).shape)
    if shape != (3, 4):
        fail(f"relu(x) 의 shape이 {shape} 입니다; 입력과 같은 (3, 4) 이어야 합니다.")
