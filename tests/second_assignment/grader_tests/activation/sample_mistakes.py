"""A wrong answer of the fixture assignment: name → the solution cells it replaces."""
MISTAKES = {
    "abs-relu": {"relu": "def relu(x):\n    return x.abs()"},
}
