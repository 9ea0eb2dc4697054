"""leaky_relu(x, slope=0.01): negative values multiplied by `slope`, the others unchanged."""
import pytest
import torch

from dropout_kit.checking import fail, function


@pytest.fixture
def leaky_relu(student):
    return function(student, "leaky_relu")


@pytest.mark.points(1)
def test_default_slope(leaky_relu):
    """기본 기울기 0.01"""
    x = torch.linspace(-2, 2, 41)
    if not torch.allclose(leaky_relu(x), torch.where(x > 0, x, 0.01 * x)):
        fail("leaky_relu(x) 가 음수에 0.01을 곱하고 나머지는 그대로 두지 않습니다.")


@pytest.mark.points(1)
def test_given_slope(leaky_relu):
    """주어진 기울기 slope 사용"""
    x = torch.linspace(-2, 2, 41)
    if not torch.allclose(leaky_relu(x, slope=0.2), torch.where(x > 0, x, 0.2 * x)):
        fail("leaky_relu(x, slope=0.2) 가 음수에 0.2를 곱하지 않습니다.")
