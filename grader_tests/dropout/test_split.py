"""Part 1, the 8:2 split: the first 80 rows of x and y for training, the last 20 for testing.

Deterministic: every check compares with the lecture's data exactly (a NaN, or a value
of another kind, never equals a row).
"""
import pytest
import torch

from dropout_kit.checking import defined, fail

SHAPES = {"xtr": (80, 1), "ytr": (80, 1), "xtest": (20, 1), "ytest": (20, 1)}


def rows_taken(part, full):
    """Which rows of `full` the tensor `part` holds, or None if they are not rows of it.
    A flattened column counts as its rows: the shape check alone judges the shape."""
    part = part.detach()
    if part.dim() == 1 and full.shape[1:] == (1,):
        part = part.reshape(-1, 1)
    if part.dim() != 2 or part.shape[1:] != full.shape[1:]:
        return None
    matches = (part[:, None, :] == full[None, :, :]).all(dim=2)
    if not matches.any(dim=1).all():
        return None
    return matches.float().argmax(dim=1).tolist()


def describe(rows):
    if rows is None:
        return "주어진 데이터의 행이 아닙니다"
    if rows == list(range(rows[0], rows[0] + len(rows))):
        return f"{rows[0]}~{rows[-1]}번 행입니다"
    return "행의 순서나 선택이 다릅니다 (섞었나요?)"


def check_rows(student, lecture_data, xname, yname, start, stop):
    wanted = list(range(start, stop))
    for name, full in ((xname, lecture_data["x"]), (yname, lecture_data["y"])):
        rows = rows_taken(defined(student, name, torch.Tensor), full)
        if rows != wanted:
            fail(f"`{name}` 은(는) {name[0]}의 {start}~{stop - 1}번 행이어야 하는데 {describe(rows)}.")


@pytest.mark.points(0.5)
def test_names_are_tensors(student):
    """xtr, ytr, xtest, ytest 가 텐서로 정의됨"""
    for name in SHAPES:
        defined(student, name, torch.Tensor)


@pytest.mark.points(0.5)
def test_shapes_and_dtype(student, lecture_data):
    """shape: xtr, ytr (80, 1) / xtest, ytest (20, 1), dtype은 x, y와 같음"""
    for name, shape in SHAPES.items():
        value = defined(student, name, torch.Tensor)
        if tuple(value.shape) != shape:
            fail(f"`{name}` 의 shape이 {tuple(value.shape)} 입니다; {shape} 이어야 합니다.")
        if value.dtype != lecture_data["x"].dtype:
            fail(f"`{name}` 의 dtype이 {value.dtype} 입니다; x, y와 같은 {lecture_data['x'].dtype} "
                 "이어야 합니다 (뒤의 네트워크가 이 dtype을 씁니다).")


@pytest.mark.points(0.5)
def test_training_rows(student, lecture_data):
    """학습 데이터 = x, y의 처음 80개 행 (x와 y의 짝이 맞음)"""
    check_rows(student, lecture_data, "xtr", "ytr", 0, 80)


@pytest.mark.points(0.5)
def test_test_rows(student, lecture_data):
    """테스트 데이터 = x, y의 마지막 20개 행 (x와 y의 짝이 맞음)"""
    check_rows(student, lecture_data, "xtest", "ytest", 80, 100)
