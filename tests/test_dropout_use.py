"""The hand-written rule on source (dropout_kit.integrity.dropout_use): which of torch's
dropouts `my_dropout` reaches, what a reading cannot follow, and honest implementations left
alone. Each case is the code cells up to the my_dropout cell, after the given ones."""
from __future__ import annotations

from pathlib import Path

import dropout_assignment as dropout
import nbformat
import pytest

from dropout_kit.cells import grade_id
from dropout_kit.harness import samples
from dropout_kit.integrity.dropout_use import DropoutUse, dropout_use, tensor_dropout_methods

REPO = Path(__file__).resolve().parent.parent
GIVEN = ["import torch\nimport matplotlib.pyplot as plt",
         "torch.manual_seed(5)\nx = torch.linspace(0, 1, 100).reshape(100, 1)"]
F = "import torch.nn.functional as F\n"


def use_of(cells: str | list[str]) -> DropoutUse:
    return dropout_use(GIVEN + ([cells] if isinstance(cells, str) else cells))


# (id, cells, the dropout reached)
DELEGATIONS = [
    ("functional", "def my_dropout(x, p, training=True):\n    return torch.nn.functional.dropout(x, p, training)",
     "torch.nn.functional.dropout"),
    ("functional-alias", F + "def my_dropout(x, p, training=True):\n    return F.dropout(x, p, training)",
     "torch.nn.functional.dropout"),
    ("from-import-as", "from torch.nn.functional import dropout as d\n\n\ndef my_dropout(x, p, training=True):\n"
                       "    return d(x, p=p, training=training)", "torch.nn.functional.dropout"),
    ("from-torch-import-nn", "from torch import nn\ndef my_dropout(x, p, training=True):\n"
                             "    return nn.functional.dropout(x, p, training)", "torch.nn.functional.dropout"),
    ("import-submodule", "import torch.nn.functional\ndef my_dropout(x, p, training=True):\n"
                         "    return torch.nn.functional.dropout(x, p)", "torch.nn.functional.dropout"),
    ("name-alias", F + "f = F.dropout\ndef my_dropout(x, p, training=True):\n    return f(x, p, training)",
     "torch.nn.functional.dropout"),
    ("alias-in-earlier-cell", [F + "drop = F.dropout", "def my_dropout(x, p, training=True):\n"
                                                       "    return drop(x, p, training)"], "torch.nn.functional.dropout"),
    ("helper-in-earlier-cell", ["def helper(x, p):\n    return torch.dropout(x, p, True)",
                                "def my_dropout(x, p, training=True):\n    return helper(x, p) if training else x"],
     "torch.dropout"),
    ("helper-chain", ["def a(x, p):\n    return torch.nn.functional.dropout2d(x, p)", "def b(x, p):\n    return a(x, p)",
                      "def my_dropout(x, p, training=True):\n    return b(x, p)"], "torch.nn.functional.dropout2d"),
    ("nested-helper", F + "def my_dropout(x, p, training=True):\n    def inner(t):\n        return F.alpha_dropout(t, p)\n"
                          "    return inner(x)", "torch.nn.functional.alpha_dropout"),
    ("default-argument", F + "def my_dropout(x, p, training=True, fn=F.dropout):\n    return fn(x, p, training)",
     "torch.nn.functional.dropout"),
    ("assigned", F + "my_dropout = F.dropout", "torch.nn.functional.dropout"),
    ("lambda", F + "my_dropout = lambda x, p, training=True: F.dropout(x, p, training)",
     "torch.nn.functional.dropout"),
    ("partial", "import functools\n" + F + "my_dropout = functools.partial(F.dropout)", "torch.nn.functional.dropout"),
    ("partial-from", "from functools import partial\n" + F + "my_dropout = partial(F.dropout, training=True)",
     "torch.nn.functional.dropout"),
    ("module-called", "def my_dropout(x, p, training=True):\n    if training:\n        return torch.nn.Dropout(p)(x)\n"
                      "    return x", "torch.nn.Dropout"),
    ("module-instance", "layer = torch.nn.Dropout(0.5)\ndef my_dropout(x, p, training=True):\n    return layer(x)",
     "torch.nn.Dropout"),
    ("module-assigned", "my_dropout = torch.nn.Dropout(p=0.5)", "torch.nn.Dropout"),
    ("module-in-sequential", "seq = torch.nn.Sequential(torch.nn.Dropout1d(0.5))\n"
                             "def my_dropout(x, p, training=True):\n    return seq(x)", "torch.nn.Dropout1d"),
    ("modules-dropout", "from torch.nn.modules.dropout import Dropout\ndef my_dropout(x, p, training=True):\n"
                        "    return Dropout(p)(x)", "torch.nn.modules.dropout"),
    ("feature-alpha", "def my_dropout(x, p, training=True):\n    return torch.nn.FeatureAlphaDropout(p)(x)",
     "torch.nn.FeatureAlphaDropout"),
    ("torch-dropout", "def my_dropout(x, p, training=True):\n    return torch.dropout(x, p, training)", "torch.dropout"),
    ("torch-dropout-inplace", "def my_dropout(x, p, training=True):\n    return torch.dropout_(x.clone(), p, training)",
     "torch.dropout_"),
    ("native-dropout", "def my_dropout(x, p, training=True):\n    return torch.native_dropout(x, p, training)[0]",
     "torch.native_dropout"),
    ("feature-dropout", "def my_dropout(x, p, training=True):\n    return torch.feature_dropout(x, p, training)",
     "torch.feature_dropout"),
    ("VF", "def my_dropout(x, p, training=True):\n    return torch._VF.dropout(x, p, training)", "torch._VF.dropout"),
    ("aten", "def my_dropout(x, p, training=True):\n    return torch.ops.aten.dropout.default(x, p, training)",
     "torch.ops.aten.dropout"),
    ("aten-native", "def my_dropout(x, p, training=True):\n    return torch.ops.aten.native_dropout(x, p, training)[0]",
     "torch.ops.aten.native_dropout"),
    ("getattr-literal", F + "my_dropout = getattr(F, 'dropout')", "torch.nn.functional.dropout"),
    ("importlib-literal", "import importlib\ndef my_dropout(x, p, training=True):\n"
                          "    return importlib.import_module('torch.nn.functional').dropout(x, p)",
     "torch.nn.functional.dropout"),
    ("globals-literal", F + "def my_dropout(x, p, training=True):\n    return globals()['F'].dropout(x, p)",
     "torch.nn.functional.dropout"),
    ("local-import", "def my_dropout(x, p, training=True):\n    import torch.nn.functional as G\n"
                     "    return G.dropout(x, p)", "torch.nn.functional.dropout"),
    ("class-call", F + "class Drop:\n    def __call__(self, x, p, training=True):\n        return F.dropout(x, p, training)\n"
                       "my_dropout = Drop()", "torch.nn.functional.dropout"),
    ("decorated", F + "def use_torch(f):\n    return F.dropout\n\n\n@use_torch\ndef my_dropout(x, p, training=True):\n"
                      "    return x", "torch.nn.functional.dropout"),
    ("factory", F + "def make():\n    return F.dropout\nmy_dropout = make()", "torch.nn.functional.dropout"),
    ("closure-factory", F + "my_dropout = (lambda f: lambda x, p, training=True: f(x, p, training))(F.dropout)",
     "torch.nn.functional.dropout"),
    ("dict-of-functions", F + "ops = {'d': F.dropout}\ndef my_dropout(x, p, training=True):\n    return ops['d'](x, p)",
     "torch.nn.functional.dropout"),
    ("list-appended", F + "fns = []\nfns.append(F.dropout)\ndef my_dropout(x, p, training=True):\n    return fns[0](x, p)",
     "torch.nn.functional.dropout"),
    ("attribute-stored", F + "class NS:\n    pass\nns = NS()\nns.f = F.dropout\ndef my_dropout(x, p, training=True):\n"
                             "    return ns.f(x, p)", "torch.nn.functional.dropout"),
    ("global-from-function", F + "def setup():\n    global my_dropout\n    my_dropout = F.dropout\nsetup()",
     "torch.nn.functional.dropout"),
    ("globals-store", F + "globals()['my_dropout'] = F.dropout", "torch.nn.functional.dropout"),
    ("sys-modules-literal", "import sys\ndef my_dropout(x, p, training=True):\n"
                            "    return sys.modules['torch.nn.functional'].dropout(x, p)", "torch.nn.functional.dropout"),
    ("conditional-binding", F + "if torch.cuda.is_available():\n    def my_dropout(x, p, training=True):\n"
                                "        return x\nelse:\n    my_dropout = F.dropout", "torch.nn.functional.dropout"),
    ("time-cell-magic", "%%time\ndef my_dropout(x, p, training=True):\n    return torch.dropout(x, p, training)",
     "torch.dropout"),
    ("capture-cell-magic", "%%capture\n" + F + "my_dropout = F.dropout", "torch.nn.functional.dropout"),
    ("honest-then-delegation", ["def my_dropout(x, p, training=True):\n    return x * (torch.rand_like(x) >= p) / (1 - p)",
                                F + "my_dropout = F.dropout"], "torch.nn.functional.dropout"),
]

HONEST = [
    ("rand-like-mask", """\
def my_dropout(x, p, training=True):
    if not training:
        return x.clone()
    mask = (torch.rand_like(x) >= p).to(x.dtype)
    return x * mask / (1 - p)"""),
    ("bernoulli", """\
def my_dropout(x, p, training=True):
    if training == False:
        return x
    keep = torch.bernoulli(torch.full_like(x, 1 - p))
    return x * keep / (1 - p)"""),
    ("bernoulli-inplace", """\
def my_dropout(x, p, training=True):
    if not training:
        return x
    return x * torch.empty_like(x).bernoulli_(1 - p) / (1 - p)"""),
    ("where", """\
def my_dropout(x, p, training=True):
    if training:
        dropped = torch.rand(x.shape) < p
        return torch.where(dropped, torch.zeros_like(x), x / (1 - p))
    return x.clone()"""),
    ("float-mask", """\
def my_dropout(x, p, training=True):
    if not training:
        return x
    return x * (torch.rand(x.shape) > p).float() / (1 - p)"""),
    ("numpy", """\
import numpy as np


def my_dropout(x, p, training=True):
    if not training:
        return x.clone()
    mask = np.random.binomial(1, 1 - p, size=tuple(x.shape))
    return x * torch.from_numpy(mask).to(x.dtype) / (1 - p)"""),
    ("index-assignment", """\
def my_dropout(x, p, training=True):
    out = x.clone()
    if training:
        out[torch.rand_like(x) < p] = 0
        out = out / (1 - p)
    return out"""),
    ("python-random", """\
import random


def my_dropout(x, p, training=True):
    if not training:
        return x.clone()
    keep = [random.random() >= p for _ in range(x.numel())]
    return x * torch.tensor(keep, dtype=x.dtype).reshape(x.shape) / (1 - p)"""),
    ("helpers-and-lambda", """\
def keep_mask(x, p):
    return (torch.rand_like(x) >= p).to(x.dtype)


scale = lambda t, p: t / (1 - p)


def my_dropout(x, p, training=True):
    return scale(x * keep_mask(x, p), p) if training else x.clone()"""),
    ("helper-class", """\
class Masker:
    def __init__(self, p):
        self.p = p

    def __call__(self, x):
        return (torch.rand_like(x) >= self.p).to(x.dtype)


def my_dropout(x, p, training=True):
    return x * Masker(p)(x) / (1 - p) if training else x.clone()"""),
    ("edge-cases", """\
def my_dropout(x, p, training=True):
    if not training or p == 0:
        return x.clone()
    if p == 1:
        return torch.zeros_like(x)
    return x.masked_fill(torch.rand_like(x) < p, 0) * (1.0 / (1 - p))"""),
    ("seeded-inside", """\
def my_dropout(x, p, training=True):
    torch.manual_seed(0)
    return x * (torch.rand_like(x) >= p).to(x.dtype) / (1 - p)"""),
    ("torch-dropout-elsewhere", ["import torch.nn.functional as F\nlayer = torch.nn.Dropout(0.5)\nprint(F.dropout(x, 0.5))",
                                 """\
def my_dropout(x, p, training=True):
    return x * (torch.rand_like(x) >= p) / (1 - p) if training else x"""]),
    ("replaced-delegation", ["import torch.nn.functional as F\nmy_dropout = F.dropout", """\
def my_dropout(x, p, training=True):
    return x * (torch.rand_like(x) >= p) / (1 - p) if training else x"""]),
    ("matplotlib-magic", """\
%matplotlib inline
def my_dropout(x, p, training=True):
    return x * (torch.rand_like(x) >= p) / (1 - p) if training else x"""),
    ("release-stub", "def my_dropout(x, p, training=True):\n    # 여기에 코드를 작성하세요\n    raise NotImplementedError()"),
    ("container-emptied", ["import torch.nn.functional as F\nfns = []\nfns.append(F.dropout)\n"
                           "fns = [lambda t, p: t * (torch.rand_like(t) >= p) / (1 - p)]",
                           "def my_dropout(x, p, training=True):\n    return fns[0](x, p) if training else x"]),
    ("getattr-on-own-object", """\
def my_dropout(x, p, training=True):
    method = "clone" if not training else "detach"
    out = getattr(x, method)()
    return out * (torch.rand_like(out) >= p) / (1 - p) if training else out"""),
]

# (id, cells, words of the evidence)
UNRESOLVED = [
    ("getattr-computed", F + "def my_dropout(x, p, training=True):\n    return getattr(F, 'drop' + 'out')(x, p)",
     "getattr with a computed name on torch.nn.functional"),
    ("getattr-computed-binding", F + "name = 'dropout'\nfn = getattr(F, name)\ndef my_dropout(x, p, training=True):\n"
                                     "    return fn(x, p)", "getattr with a computed name"),
    ("getattr-as-value", "import functools\ndef my_dropout(x, p, training=True):\n"
                         "    return functools.reduce(getattr, ['nn', 'functional', 'dropout'], torch)(x, p)",
     "getattr used as a value"),
    ("eval", "def my_dropout(x, p, training=True):\n    return eval('torch.dropout')(x, p, training)", "eval()"),
    ("exec-in-body", "def my_dropout(x, p, training=True):\n    exec('y = 1')\n    return x", "exec()"),
    ("module-dict", F + "def my_dropout(x, p, training=True):\n    return torch.nn.functional.__dict__['dropout'](x, p)",
     "torch.nn.functional.__dict__"),
    ("module-dict-get", F + "def my_dropout(x, p, training=True):\n    return F.__dict__.get('dropout')(x, p)",
     "torch.nn.functional.__dict__"),
    ("vars", F + "def my_dropout(x, p, training=True):\n    return vars(F)['dropout'](x, p)", "vars(torch.nn.functional)"),
    ("importlib-computed", "import importlib\ndef my_dropout(x, p, training=True):\n"
                           "    return importlib.import_module('torch.nn.' + 'functional').dropout(x, p)",
     "a module imported by a computed name"),
    ("globals-computed", F + "def my_dropout(x, p, training=True):\n    return globals()['F' + ''].dropout(x, p)",
     "a name looked up by a computed string"),
    ("sys-modules-computed", "import sys\ndef my_dropout(x, p, training=True):\n    return sys.modules[name].f(x)",
     "sys.modules[…] with a computed name"),
    ("attrgetter", F + "import operator\ndef my_dropout(x, p, training=True):\n"
                       "    return operator.attrgetter('dropout')(F)(x, p)", "operator.attrgetter"),
    ("undefined-helper", "def my_dropout(x, p, training=True):\n    return helper(x, p)",
     "a call of helper, which no cell up to here defines"),
    ("unknown-module", "import mylib\ndef my_dropout(x, p, training=True):\n    return mylib.drop(x, p)",
     "from module mylib, whose code is not in the notebook"),
    ("imported-function", "from mylib import my_dropout", "from module mylib"),
    ("attention-dropout", F + "def my_dropout(x, p, training=True):\n"
                              "    return F.scaled_dot_product_attention(x, x, x, dropout_p=p)",
     "applies dropout itself"),
    ("get-ipython", "def my_dropout(x, p, training=True):\n    return get_ipython().user_ns['F'].dropout(x, p)",
     "get_ipython()"),
]

# (id, cells, words of the evidence): no definition of my_dropout is found
UNDEFINED = [
    ("exec-defined", "exec('def my_dropout(x, p, training=True):\\n    return x')", "exec(…) (may define my_dropout)"),
    ("run-magic", "%run helper.py", "%run"),
    ("globals-computed-store", "globals()['my_' + 'dropout'] = lambda x, p, training=True: x",
     "a name bound by a computed string"),
    ("nothing", "x = 1", "no top-level definition of my_dropout"),
    ("syntax-error", "def my_dropout(x, p, training=True)\n    return x", "no top-level definition of my_dropout"),
    ("star-import", "from torch.nn.functional import *", "from torch.nn.functional import *"),
]


@pytest.mark.parametrize("cells, dropout", [pytest.param(c, d, id=i) for i, c, d in DELEGATIONS])
def test_delegation_is_found(cells, dropout):
    use = use_of(cells)
    assert use.defined
    assert dropout in use.uses, use


@pytest.mark.parametrize("cells", [pytest.param(c, id=i) for i, c in HONEST])
def test_honest_implementation_is_clean(cells):
    assert use_of(cells) == DropoutUse(uses=(), unresolved=(), defined=True)


@pytest.mark.parametrize("cells, words", [pytest.param(c, w, id=i) for i, c, w in UNRESOLVED])
def test_unresolvable_is_reported(cells, words):
    use = use_of(cells)
    assert use.uses == ()
    assert use.defined
    assert any(words in line for line in use.unresolved), use


@pytest.mark.parametrize("cells, words", [pytest.param(c, w, id=i) for i, c, w in UNDEFINED])
def test_missing_definition_is_reported(cells, words):
    use = use_of(cells)
    assert not use.defined and use.uses == ()
    assert any(words in line for line in use.unresolved), use


def test_evidence_points_at_the_cell_and_line():
    use = use_of(F + "\n\ndef my_dropout(x, p, training=True):\n    return getattr(F, name)(x, p)")
    assert use.unresolved == (
        "getattr with a computed name on torch.nn.functional — cell 2, line 5: return getattr(F, name)(x, p)",)


def test_evidence_line_inside_a_cell_magic():
    use = use_of("%%time\n\ndef my_dropout(x, p, training=True):\n    return helper(x)")
    assert use.unresolved == ("a call of helper, which no cell up to here defines — cell 2, line 4: return helper(x)",)


def test_too_deep_to_read():
    use = use_of("y = " + "+".join(["torch.a"] * 1400) + "\ndef my_dropout(x, p, training=True):\n    return x")
    assert use.uses == () and any("nested too deeply" in line for line in use.unresolved)


def test_other_function_name():
    use = dropout_use(GIVEN + ["def my_relu(x):\n    return torch.nn.functional.relu(x)"], "my_relu")
    assert use == DropoutUse(uses=(), unresolved=(), defined=True)


def test_tensor_has_no_dropout_method():
    assert tensor_dropout_methods() == frozenset()


# -- the notebooks and the project's corpora ------------------------------------------------------
def cells_up_to_my_dropout(nb: nbformat.NotebookNode) -> list[str]:
    sources = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            sources.append(cell.source)
            if grade_id(cell) == "my_dropout":
                return sources
    raise AssertionError("no my_dropout cell")


@pytest.mark.parametrize("notebook", [dropout.source_notebook(REPO), dropout.release_notebook(REPO)],
                         ids=["source", "release"])
def test_notebooks_are_clean(notebook):
    nb = nbformat.read(notebook, as_version=4)
    assert dropout_use(cells_up_to_my_dropout(nb)) == DropoutUse(uses=(), unresolved=(), defined=True)


def test_corpora():
    """The corpus entries that call torch's dropout in my_dropout are found; every other
    honest answer (right or wrong) is clean; so are the tampering cases' my_dropout."""
    import corpus as checks_corpus
    from tampering import corpus as tampering_corpus

    from dropout_kit.assignment import Assignment

    release = dropout.release_notebook(REPO)
    reference = samples.reference_answers(dropout.source_notebook(REPO))
    answers = {f"corpus:{e.name}": checks_corpus.answers(e, reference) for e in checks_corpus.ENTRIES}
    answers.update({f"sample:{name}": a or {} for name, a in
                    samples.sample_class(Assignment(dropout.ASSIGNMENT, REPO)).items()})
    defaults = {part: reference[part] for part in tampering_corpus.RIGHT_BY_DEFAULT}
    answers.update({f"tampering-honest:{name}": {**defaults, **a} for name, a in tampering_corpus.HONEST.items()})
    delegating = {f"corpus:{e.name}" for e in checks_corpus.ENTRIES if e.mistake == checks_corpus.TORCH_DROPOUT}
    delegating |= {"sample:torch-dropout", "tampering-honest:plain-torch-dropout"}
    assert len(delegating) >= 4
    for name, cells in answers.items():
        use = dropout_use(cells_up_to_my_dropout(samples.assemble(release, cells)))
        assert use.defined and not use.unresolved, (name, use)
        assert bool(use.uses) == (name in delegating), (name, use)
