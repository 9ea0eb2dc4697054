"""The integrity scan (dropout_kit.integrity.scan): what it flags in a student's cells,
what it leaves alone, and how it reports it on a notebook.

Each source is read as a cell of the assignment, after the given imports cell
(`import torch`, `import matplotlib.pyplot as plt`).
"""
from __future__ import annotations

import ast
from pathlib import Path

import corpus as checks_corpus
import dropout_assignment as dropout
import honest_corpus
import nbformat
import pytest

from dropout_kit.harness import samples
from dropout_kit.integrity.scan import (
    Aliases,
    Finding,
    cell_source,
    is_autograder_cell,
    line_map,
    scan_notebook,
    scan_source,
    student_cells,
)

REPO = Path(__file__).resolve().parent.parent
GIVEN_IMPORTS = "import torch\nimport matplotlib.pyplot as plt"


def findings(source: str) -> list[tuple[str, int, str]]:
    aliases = Aliases()
    scan_source(GIVEN_IMPORTS, aliases)
    return scan_source(source, aliases)


# (id, source, words of the construct expected)
FLAGGED = [
    # attributes of torch, its classes and modules written: direct, aliased, by setattr & co
    ("module-train", "torch.nn.Module.train = lambda self, mode=True: self", "attribute of torch.nn.Module"),
    ("nn-dropout-forward", "import torch.nn as nn\nnn.Dropout.forward = lambda self, x: x",
     "attribute of torch.nn.Dropout"),
    ("from-torch-import-nn", "from torch import nn\nnn.Dropout.forward = f", "attribute of torch.nn.Dropout"),
    ("functional-alias", "from torch.nn import functional as F\nF.dropout = lambda x, *a, **k: x",
     "attribute of torch.nn.functional"),
    ("functional-import-as", "import torch.nn.functional as F\nF.dropout = f", "attribute of torch.nn.functional"),
    ("class-alias", "from torch.nn import Module as M\nM.eval = lambda self: self", "attribute of torch.nn.Module"),
    ("simple-name-alias", "m = torch.nn\nm.Module.train = f", "attribute of torch.nn.Module"),
    ("tuple-alias", "a, b = torch.nn, torch\na.Dropout.forward = f", "attribute of torch.nn.Dropout"),
    ("walrus-alias", "(F := torch.nn.functional).dropout = f", "attribute of torch.nn.functional"),
    ("getattr-literal-alias", "nn = getattr(torch, 'nn')\nnn.Module.train = f", "attribute of torch.nn.Module"),
    ("tensor-eq", "torch.Tensor.__eq__ = lambda a, b: True", "attribute of torch.Tensor"),
    ("torch-equal", "torch.equal = lambda *a: True", "attribute of torch"),
    ("augmented", "torch.nn.Dropout.p += 1", "augmented assignment to an attribute of torch.nn.Dropout"),
    ("delete", "del torch.nn.functional.dropout", "deletion of an attribute of torch.nn.functional"),
    ("for-target", "for torch.equal in [f]:\n    pass", "attribute of torch"),
    ("with-target", "with ctx() as torch.equal:\n    pass", "attribute of torch"),
    ("setattr", "setattr(torch.nn.functional, 'dropout', f)", "setattr on torch.nn.functional"),
    ("setattr-computed", "setattr(torch.nn, name, f)", "setattr on torch.nn"),
    ("delattr", "delattr(torch.nn.Dropout, 'forward')", "delattr on torch.nn.Dropout"),
    ("object-setattr", "object.__setattr__(torch.nn.Module, 'train', f)", "setattr on torch.nn.Module"),
    ("type-setattr", "type.__setattr__(torch.nn.Module, 'train', f)", "setattr on torch.nn.Module"),
    ("dict-item", "torch.nn.functional.__dict__['dropout'] = f", "__dict__ of torch.nn.functional"),
    ("dict-update", "import torch.nn.functional as F\nF.__dict__.update(dropout=f)", "__dict__ of torch.nn.functional"),
    ("vars-item", "import torch.nn.functional as F\nvars(F)['dropout'] = f", "vars() of torch.nn.functional"),
    ("type-of-instance", "type(net[2]).forward = lambda self, x: x", "attribute of an object's class"),
    ("class-of-instance", "cls = net[2].__class__\ncls.forward = f", "attribute of an object's class"),
    ("class-assigned", "net[2].__class__ = torch.nn.Identity", "assignment to __class__"),
    ("defaults", "torch.nn.functional.dropout.__defaults__ = (0.0,)", "function's defaults"),
    ("numpy", "import numpy as np\nnp.allclose = lambda *a, **k: True", "attribute of numpy"),
    ("builtins-module", "import builtins\nbuiltins.isinstance = lambda o, k: True", "builtins module"),
    ("builtins-alias", "import builtins as b\nb.print = f", "attribute of builtins"),
    ("sys-stdout", "import sys\nsys.stdout = Rewriter(sys.stdout)", "attribute of sys"),
    ("sys-excepthook", "import sys\nsys.excepthook = f", "attribute of sys"),
    ("sys-displayhook", "import sys\nsys.displayhook = f", "attribute of sys"),
    ("pytest-skip", "import pytest\npytest.skip('x')", "pytest"),
    ("kit-grade", "import dropout_kit.grading\ndropout_kit.grading.grade = f", "grading kit"),
    ("kit-agent", "__dropout_kit_agent__.answer = f", "grading machinery"),
    ("kit-prefix-name", "x = __dropout_kit_boot__", "grading machinery"),
    ("kit-agent-name", "dropout_kit_agent = None", "grading machinery"),
    ("grader-tests-string", "open('../grader_tests/dropout/test_split.py')", "string naming the grading machinery"),
    ("kit-string", "sys.modules['dropout_kit.grading']", "string naming the grading machinery"),
    ("nbgrader", "import nbgrader", "nbgrader"),
    ("nbgrader-string", "meta = cell['metadata']['nbgrader']", "string naming the grading machinery"),
    ("gradebook-string", "open('../../../gradebook.db')", "string naming the grading machinery"),
    ("python-file", "with open('patch.py', 'w') as f:\n    f.write(code)", "Python file name"),
    # global hooks and modes
    ("forward-hook", "torch.nn.modules.module.register_module_forward_hook(hook)", "global hook"),
    ("forward-pre-hook", "from torch.nn.modules.module import register_module_forward_pre_hook as r\nr(hook)",
     "global hook"),
    ("backward-hook", "torch.nn.modules.module.register_module_full_backward_hook(hook)", "global hook"),
    ("torch-function-mode", "from torch.overrides import TorchFunctionMode\n\n\nclass M(TorchFunctionMode):\n"
                            "    pass", "torch.overrides"),
    ("torch-dispatch-mode", "from torch.utils._python_dispatch import TorchDispatchMode", "TorchDispatchMode"),
    ("torch-library", "lib = torch.library.Library('aten', 'IMPL')", "torch.library"),
    ("torch-C", "torch._C._set_grad_enabled(False)", "torch's private internals"),
    ("torch-VF", "y = torch._VF.dropout(x, 0.5, True)", "torch's private internals"),
    ("global-hooks-dict", "torch.nn.modules.module._global_forward_hooks[0] = hook", "torch's private internals"),
    ("torch-function-def", "class T(torch.Tensor):\n    @classmethod\n    def __torch_function__(cls, func, types, "
                           "args=(), kwargs=None):\n        return 0", "torch function override"),
    ("torch-dispatch-def", "class T:\n    def __torch_dispatch__(self, *a):\n        pass", "torch function override"),
    ("set-grad-enabled", "torch.set_grad_enabled(False)", "outside a with block"),
    ("autograd-set-grad-enabled", "torch.autograd.set_grad_enabled(False)", "outside a with block"),
    # builtins that run code
    ("exec", "exec('torch.equal = lambda *a: True')", "exec"),
    ("eval", "y = eval('1 + 1')", "eval"),
    ("compile", "code = compile('x = 1', '<x>', 'exec')", "compile (the builtin"),
    ("import-builtin", "m = __import__('torch')", "__import__"),
    ("breakpoint", "breakpoint()", "breakpoint"),
    ("exec-alias", "run = exec\nrun('x = 1')", "exec"),
    ("builtins-exec", "import builtins\nbuiltins.exec('x = 1')", "exec"),
    # names computed at run time
    ("getattr-torch-computed", "getattr(torch.nn.functional, 'drop' + 'out')(x, 0.5)", "getattr with a computed name"),
    ("getattr-module-computed", "getattr(torch, name)", "getattr with a computed name on torch"),
    ("setattr-computed-other", "setattr(obj, name, value)", "setattr with a computed name"),
    ("setattr-as-value", "import functools\nput = functools.partial(setattr, torch)", "setattr used as a value"),
    ("attrgetter", "import operator\nf = operator.attrgetter(name)(torch)", "operator.attrgetter"),
    ("methodcaller", "import operator\nf = operator.methodcaller(name)", "operator.methodcaller"),
    ("getattr-sys-modules", "import sys\nm = getattr(sys, 'modules')", "sys.modules"),
    # modules that reach the interpreter's internals
    ("importlib", "import importlib\nimportlib.reload(torch)", "importlib"),
    ("importlib-from", "from importlib import import_module", "importlib"),
    ("sys-modules", "import sys\nsys.modules['torch'].equal = f", "sys.modules"),
    ("gc-objects", "import gc\nobjs = gc.get_objects()", "gc"),
    ("gc-referrers", "import gc\ngc.get_referrers(x)", "gc"),
    ("gc-callbacks", "import gc\ngc.callbacks.append(f)", "gc"),
    ("ctypes", "import ctypes\nctypes.string_at(0)", "ctypes"),
    ("pickle", "import pickle\npickle.loads(data)", "pickle"),
    ("marshal", "import marshal", "marshal"),
    ("dill", "import dill", "dill"),
    ("cloudpickle", "import cloudpickle", "cloudpickle"),
    ("shelve", "import shelve", "shelve"),
    ("torch-load-pickle", "state = torch.load('w.pt', weights_only=False)", "weights_only=False"),
    ("numpy-load-pickle", "import numpy as np\nnp.load('a.npy', allow_pickle=True)", "allow_pickle"),
    ("signal", "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)", "signal"),
    ("settrace", "import sys\nsys.settrace(tracer)", "sys.settrace"),
    ("setprofile", "import sys\nsys.setprofile(f)", "sys.setprofile"),
    ("audithook", "import sys\nsys.addaudithook(f)", "sys.addaudithook"),
    ("threading-settrace", "import threading\nthreading.settrace(f)", "threading"),
    ("getframe", "import sys\nframe = sys._getframe(1)", "sys._getframe"),
    ("inspect", "import inspect\ncaller = inspect.currentframe().f_back", "inspect"),
    ("inspect-getsource", "from inspect import getsource", "inspect"),
    ("traceback-stack", "import traceback\ntraceback.extract_stack()", "traceback.extract_stack"),
    ("f-back", "frame = frame.f_back", "frame introspection"),
    ("f-globals", "g = frame.f_globals", "frame introspection"),
    ("f-locals", "l = frame.f_locals", "frame introspection"),
    ("tb-frame", "f = error.__traceback__.tb_frame", "traceback's frames"),
    ("gi-frame", "f = gen.gi_frame", "generator's or coroutine's frame"),
    ("cr-frame", "f = coro.cr_frame", "generator's or coroutine's frame"),
    ("closure", "cells = fn.__closure__", "closure cells"),
    ("cell-contents", "v = cell.cell_contents", "closure cells"),
    ("func-globals", "g = fn.__globals__", "function's globals"),
    ("code", "fn.__code__ = other.__code__", "code objects"),
    ("dunder-builtins", "b = __builtins__", "__builtins__"),
    ("subclasses", "classes = object.__subclasses__()", "__subclasses__"),
    ("mro", "base = type(net).__mro__[1]", "class hierarchy"),
    ("builtin-self", "b = print.__self__", "__self__"),
    ("getattr-literal-intro", "g = getattr(fn, '__globals__')", "function's globals"),
    ("intro-string", "g = globals()['__builtins__']", "__builtins__"),
    # threads and processes
    ("threading", "import threading\nthreading.Thread(target=f).start()", "threading"),
    ("thread", "import _thread\n_thread.start_new_thread(f, ())", "threads"),
    ("multiprocessing", "import multiprocessing", "multiprocessing"),
    ("concurrent", "from concurrent.futures import ThreadPoolExecutor", "concurrent.futures"),
    ("subprocess", "import subprocess\nsubprocess.run(['ls'])", "subprocess"),
    ("os-system", "import os\nos.system('ls')", "os.system"),
    ("os-popen", "import os\nos.popen('ls')", "os.popen"),
    ("os-fork", "import os\npid = os.fork()", "os.fork"),
    ("os-exec", "import os\nos.execv('/bin/sh', ['sh'])", "os.exec"),
    ("os-spawn", "import os\nos.spawnl(os.P_NOWAIT, '/bin/sh')", "os.spawn"),
    ("os-kill", "import os\nos.kill(os.getppid(), 9)", "os.kill"),
    ("from-os-system", "from os import system\nsystem('ls')", "os.system"),
    ("pty", "import pty", "pty"),
    ("asyncio", "import asyncio\nasyncio.get_event_loop().create_task(f())", "asyncio"),
    # the kernel and the shell
    ("get-ipython", "ip = get_ipython()\nip.events.register('pre_run_cell', f)", "get_ipython()"),
    ("get-ipython-name", "shell = get_ipython", "get_ipython()"),
    ("ipython", "import IPython\nIPython.get_ipython()", "IPython's internals"),
    ("ipython-from", "from IPython import get_ipython", "IPython's internals"),
    ("ipykernel", "import ipykernel", "ipykernel"),
    ("zmq", "import zmq", "zmq"),
    ("jupyter-client", "import jupyter_client", "jupyter_client"),
    ("comm", "import comm", "comm"),
    ("atexit", "import atexit\natexit.register(f)", "atexit"),
    ("socket", "import socket", "socket"),
    # magics: code inside them is read, and magics that run something else are flagged
    ("time-magic", "%time torch.equal = lambda *a: True", "attribute of torch"),
    ("time-magic-exec", "%time exec('x = 1')", "exec"),
    ("timeit-options", "%timeit -n 1 -r 1 torch.nn.Module.train = f", "attribute of torch.nn.Module"),
    ("prun-magic", "%prun -q import ctypes", "ctypes"),
    ("debug-magic", "%debug torch.equal = f", "attribute of torch"),
    ("time-cell", "%%time\nx = 1\ntorch.nn.functional.dropout = f", "attribute of torch.nn.functional"),
    ("timeit-cell", "%%timeit -n 1\ny = 2\nimport builtins", "builtins module"),
    ("timeit-cell-setup", "%%timeit import subprocess\ny = 2", "subprocess"),
    ("capture-cell", "%%capture out\nimport pytest\npytest.skip()", "pytest"),
    ("prun-cell", "%%prun\nsetattr(torch.nn.Module, 'train', f)", "setattr on torch.nn.Module"),
    ("nested-magics", "%%time\n%time import signal", "signal"),
    ("magic-in-function", "def f():\n    %time import threading\n    return 1", "threading"),
    # shell commands are honest (HONEST): what IPython evaluates in them is Python, and a
    # shell magic expands its text twice
    ("shell-expansion-setattr", "!echo {setattr(torch.nn.Module, 'train', f)}", "setattr on torch.nn.Module"),
    ("shell-expansion-dunder-setattr", "!echo {torch.nn.Module.__setattr__(torch.nn.Module, 'train', f)}",
     "setattr on torch.nn.Module"),
    ("shell-expansion-exec", "!ls {exec(code)}", "exec"),
    ("shell-expansion-dollar", "!echo $torch._C", "torch's private internals"),
    ("shell-output-expansion", "files = !ls {__import__('os').getcwd()}", "__import__"),
    ("shell-double-bang-expansion", "!!echo {exec(code)}", "exec"),
    ("shell-in-time-expansion", "%%time\n!echo {setattr(torch, 'equal', f)}", "setattr on torch"),
    ("shell-cell-expansion", "%%sx\nls {exec(code)}", "exec"),
    ("shell-writes-python-file", "!echo 'import torch' > patch.py", "Python file name"),
    ("shell-copies-python-file", "!cp notes.txt helper.py && ls", "Python file name"),
    ("shell-local-wheel", "!pip install ./patch.whl", "Python file name"),
    ("shell-grader-tests", "!ls ../grader_tests", "grading machinery"),
    ("sx-expansion", "%sx echo {exec(code)}", "exec"),
    ("sx-computed-twice", "%sx echo {command}", "expands again"),
    ("sx-escaped-braces-run-twice", "%sx echo {{exec(code)}}", "exec"),
    ("system-computed-twice", "%system ls {folder}", "expands again"),
    ("pip-computed-twice", "%pip install {package}", "expands again"),
    ("pip-escaped-braces-run-twice", "%pip install {{exec(code)}}", "exec"),
    ("alias-computed-twice", "%ls {folder}", "expands again"),
    ("matplotlib-expansion", "%matplotlib {exec(code)}", "exec"),
    ("capture-line-expansion", "%%capture {exec(code)}\nx = 1", "exec"),
    ("pinfo-expansion", "%pinfo {exec(code)}", "exec"),
    ("run", "%run helper.py", "%run"),
    ("load", "%load helper.py", "%load"),
    ("script", "%%script python\nprint(1)", "%%script"),
    ("bash", "%%bash\nls", "%%bash"),
    ("sh", "%%sh\nls", "%%sh"),
    ("python", "%%python\nprint(1)", "%%python"),
    ("python3", "%%python3\nprint(1)", "%%python3"),
    ("writefile", "%%writefile helper.py\nimport torch", "%%writefile"),
    ("env-assign", "%env CUDA_VISIBLE_DEVICES=0", "%env"),
    ("alias", "%alias hi echo hi", "%alias"),
    # %config: InlineBackend.<trait> = <value> only, its value read as Python
    ("config-other", "%config IPCompleter.evaluation = 'unsafe'", "%config of anything but InlineBackend"),
    ("config-shell", "%config ZMQInteractiveShell.ast_node_interactivity = 'all'", "%config of anything but"),
    ("config-value-flagged", "%config InlineBackend.figure_format = exec(code)", "exec"),
    ("config-value-setattr", "%config InlineBackend.figure_format = setattr(torch, 'equal', f)", "setattr on torch"),
    ("config-second-statement", "%config InlineBackend.figure_format = 'png'; import ctypes",
     "%config of anything but"),
    ("config-chained", "%config InlineBackend.figure_format = torch.equal = f", "%config of anything but"),
    ("config-computed-text", "%config InlineBackend.figure_format = {fmt}", "expands again"),
    ("load-ext", "%load_ext autoreload", "%load_ext"),
    ("autoreload", "%autoreload 2", "%autoreload"),
    ("macro", "%macro m 1-2", "%macro"),
    ("store", "%store x", "%store"),
    ("recall", "%recall 1", "%recall"),
    ("rerun", "%rerun 1", "%rerun"),
    ("edit", "%edit x", "%edit"),
    # sys.path: read freely, changed never
    ("sys-path-append", "import sys\nsys.path.append('.')", "a change to sys.path"),
    ("sys-path-insert", "import sys\nsys.path.insert(0, x)", "a change to sys.path"),
    ("sys-path-extend", "import sys\nsys.path.extend(['.'])", "a change to sys.path"),
    ("sys-path-remove", "import sys\nsys.path.remove('')", "a change to sys.path"),
    ("sys-path-pop", "import sys\nsys.path.pop(0)", "a change to sys.path"),
    ("sys-path-assign", "import sys\nsys.path = ['.'] + sys.path", "assignment to an attribute of sys"),
    ("sys-path-augmented", "import sys\nsys.path += ['.']", "augmented assignment to an attribute of sys"),
    ("sys-path-item", "import sys\nsys.path[0:0] = ['.']", "item of sys.path"),
    ("sys-path-delete-item", "import sys\ndel sys.path[0]", "item of sys.path"),
    ("sys-path-alias", "import sys\npaths = sys.path\npaths.insert(0, '.')", "a change to sys.path"),
    ("sys-path-alias-augmented", "import sys\npaths = sys.path\npaths += ['.']", "a change to sys.path"),
    ("sys-path-from-import", "from sys import path\npath.append('.')", "a change to sys.path"),
    ("sys-path-getattr", "import sys\ngetattr(sys, 'path').append('.')", "a change to sys.path"),
    ("sys-path-setattr", "import sys\nsetattr(sys, 'path', ['.'])", "setattr on sys"),
    ("sys-path-passed", "import sys\nadd_folder(sys.path)", "used where it may be changed"),
    ("sys-path-list-method", "import sys\nlist.append(sys.path, '.')", "used where it may be changed"),
    ("sys-path-own-print", "import sys\n\n\ndef print(p):\n    p.append('.')\n\n\nprint(sys.path)",
     "used where it may be changed"),
    ("sys-path-returned", "import sys\n\n\ndef paths():\n    return sys.path", "used where it may be changed"),
    ("sys-path-or", "import sys\npaths = sys.path or []", "used where it may be changed"),
    ("sys-path-dunder-iadd", "import sys\nsys.path.__iadd__(['.'])", "a change to sys.path"),
    # setattr by other spellings, IPython.core.display beyond its display objects
    ("type-dunder-setattr", "type(torch.nn.Module).__setattr__(torch.nn.Module, 'train', f)",
     "setattr on torch.nn.Module"),
    ("module-dunder-setattr", "torch.nn.functional.__setattr__('dropout', f)", "setattr on torch.nn.functional"),
    ("module-dunder-delattr", "torch.nn.functional.__delattr__('dropout')", "delattr on torch.nn.functional"),
    ("ipython-core-display-os", "from IPython.core.display import os", "IPython's internals"),
    ("ipython-core-display-module-os", "import IPython.core.display as d\nd.os.system('ls')", "IPython's internals"),
    ("ipython-core-shell", "from IPython.core.interactiveshell import InteractiveShell", "IPython's internals"),
    ("unknown-magic", "%some_magic", "does not know"),
    ("magic-by-hand", "get_ipython().run_line_magic('run', 'helper.py')", "%run"),
    ("magic-computed", "get_ipython().run_line_magic(name, line)", "get_ipython()"),
    ("lookup-magic", "dropout_kit?", "grading machinery"),
    # deeper than the scan's own recursion (it parses: the kernel may run it)
    ("too-deep", "x = " + "+".join(["torch.a"] * 1400), "nested too deeply"),
]

# Honest code, none of it flagged: the idioms of the lecture and of notebooks in general.
HONEST = [
    ("eval-mode", "net.eval()"),
    ("train-mode", "net.train()"),
    ("train-false", "net.train(False)\nnet.training = False"),
    ("torch-compile", "net = torch.compile(net)"),
    ("re-compile", "import re\npattern = re.compile('x')"),
    ("re-compile-from", "from re import compile\npattern = compile('x')"),
    ("matplotlib-inline", "%matplotlib inline"),
    ("matplotlib-inline-by-hand", "get_ipython().run_line_magic('matplotlib', 'inline')"),
    ("matplotlib-notebook", "%matplotlib notebook"),
    # shell commands run in a subprocess; their expansions of plain names are honest
    ("shell-line", "!ls -la"),
    ("shell-output", "files = !ls"),
    ("shell-double-bang", "!!ls"),
    ("shell-in-time", "%%time\n!pip install x"),
    ("nvidia-smi", "!nvidia-smi"),
    ("pip-install", "!pip install -q koreanize-matplotlib"),
    ("pip-install-upgrade", "!pip install --upgrade torch matplotlib tqdm"),
    ("pip-list", "!pip list | grep torch"),
    ("pip-show", "!pip show torch"),
    ("pip-magic", "%pip install einops"),
    ("conda-magic", "%conda install -y tqdm"),
    ("sx", "%sx ls"),
    ("system", "%system ls"),
    ("sx-cell", "%%sx\nls -la"),
    ("alias-ls", "%ls"),
    ("shell-expansion-names", "학습횟수 = 1000\n!echo {학습횟수} $학습횟수 {len(xtr)}"),
    ("shell-dollar-environment", "!echo $HOME $PATH"),
    ("shell-escaped", "!echo {{not expanded}} $$HOME"),
    ("shell-format-spec", "!echo {x:>5}"),
    ("shell-checkpoint-names", "!ls -la dropout_net.pth model.pt last.ckpt\n"
                               "!wget -q https://example.org/NanumGothic.ttf"),
    ("shell-python-version", "!python --version\n!python -c 'import torch; print(torch.__version__)'"),
    ("pip-literal-field", "%pip install {'tqdm'}"),
    # %config of the inline backend, values read as Python
    ("config-retina", "%config InlineBackend.figure_format = 'retina'"),
    ("config-formats-set", "%config InlineBackend.figure_formats = {'png', 'retina'}"),
    ("config-rc-dict", "%config InlineBackend.rc = {'figure.dpi': 100}"),
    ("config-value-name", "fmt = 'svg'\n%config InlineBackend.figure_format = fmt"),
    ("config-value-call", "%config InlineBackend.figure_format = compute()"),
    ("config-show", "%config"),
    ("config-class-help", "%config InlineBackend"),
    ("config-read", "%config InlineBackend.figure_format"),
    # reading sys.path (and anything else)
    ("sys-path-print", "import sys\nprint(sys.path)"),
    ("sys-path-reads", "import sys\nprint(sys.version)\nprint('\\n'.join(sys.path))\nfor p in sys.path:\n    print(p)\n"
                       "print(len(sys.path), sys.path[0], '' in sys.path, sys.path.index(sys.path[0]))\n"
                       "print(f'{sys.path}')\nsys.path"),
    ("sys-path-alias-read", "import sys\npaths = sys.path\nprint(*paths, sep='\\n')"),
    ("sys-path-copies", "import sys\np = list(sys.path)\np.append('.')\nq = sys.path.copy()\nq.insert(0, 'x')\n"
                        "r = [*sys.path, '.']"),
    ("sys-path-pprint", "import sys, pprint\npprint.pprint(sys.path)"),
    ("sys-version", "import sys\nprint(sys.version)\nprint(sys.version_info >= (3, 8), sys.platform)"),
    # showing results
    ("ipython-core-display", "from IPython.core.display import display, HTML\ndisplay(HTML('<b>학습 완료</b>'))"),
    ("ipython-core-display-module", "import IPython.core.display\nIPython.core.display.HTML('x')"),
    ("ipython-core-display-functions", "from IPython.core.display_functions import display"),
    ("ipython-core-import-display", "from IPython.core import display\ndisplay.Markdown('**x**')"),
    ("display-sys-path", "from IPython.display import display\nimport sys\ndisplay(sys.path)"),
    ("korean-font-rcparams", "plt.rcParams['font.family'] = 'NanumGothic'\nplt.rcParams['axes.unicode_minus'] = False"),
    ("korean-font-matplotlib", "import matplotlib\nmatplotlib.rcParams['font.family'] = 'NanumGothic'"),
    ("korean-font-rc", "import matplotlib as mpl\nmpl.rc('font', family='NanumGothic')"),
    ("korean-font-manager", "import matplotlib.font_manager as fm\nfm.fontManager.addfont('/usr/share/fonts/x.ttf')"),
    ("rcparams-update", "plt.rcParams.update({'figure.figsize': (8, 4)})"),
    ("environ", "import os\nos.environ['X'] = '1'"),
    ("environ-library-settings", "import os\nos.environ['KMP_DUPLICATE_LIB_OK'] = 'TRUE'\n"
                                 "os.environ['CUDA_VISIBLE_DEVICES'] = '0'\nos.environ['PYTHONHASHSEED'] = str(42)"),
    ("korean-font-list", "import matplotlib.font_manager as fm\n"
                         "print([f.name for f in fm.fontManager.ttflist if 'Nanum' in f.name])"),
    ("koreanize-guarded", "try:\n    import koreanize_matplotlib\nexcept ImportError:\n"
                          "    plt.rcParams['font.family'] = 'NanumGothic'"),
    ("colab-drive-guarded", "try:\n    from google.colab import drive\n    drive.mount('/content/drive')\n"
                            "except ImportError:\n    pass"),
    ("seeds", "import random\nimport numpy as np\nrandom.seed(42)\nnp.random.seed(42)\ntorch.manual_seed(42)\n"
              "torch.cuda.manual_seed_all(42)\ntorch.use_deterministic_algorithms(True)"),
    ("checkpoint-pt", "torch.save(net.state_dict(), 'model.pt')\n"
                      "net.load_state_dict(torch.load('model.pt', weights_only=True))"),
    ("checkpoint-ckpt", "torch.save({'epoch': 1000, 'model': net.state_dict()}, 'last.ckpt')\n"
                        "ckpt = torch.load('last.ckpt', map_location='cpu')\nnet.load_state_dict(ckpt['model'])"),
    ("data-loader-full-batch", "from torch.utils.data import DataLoader, TensorDataset\n"
                               "loader = DataLoader(TensorDataset(xtr, ytr), batch_size=80)"),
    ("tqdm-auto", "from tqdm.auto import tqdm\nfor epoch in tqdm(range(1000), desc='학습'):\n    pass"),
    ("tqdm-trange", "from tqdm import trange\nfor epoch in trange(3):\n    pass"),
    ("warnings-category", "import warnings\nwarnings.filterwarnings('ignore', category=UserWarning)\n"
                          "warnings.simplefilter('ignore')"),
    ("korean-names", "학습횟수 = 1000\n손실기록 = []\nfor 에폭 in range(학습횟수):\n    손실기록.append(에폭)"),
    ("my-dropout-module", "class MyDropout(torch.nn.Module):\n    def __init__(self, p):\n        super().__init__()\n"
                          "        self.p = p\n\n    def forward(self, x):\n"
                          "        return my_dropout(x, self.p, self.training)\n\n\n"
                          "net = torch.nn.Sequential(torch.nn.Linear(1, 512), torch.nn.ReLU(), MyDropout(0.8), "
                          "torch.nn.Linear(512, 1))"),
    ("own-dunder-setattr", "class P(torch.nn.Module):\n    def __init__(self):\n"
                           "        torch.nn.Module.__setattr__(self, 'x', 1)\n        super().__setattr__('y', 2)\n"
                           "\n\nnet.__setattr__('z', 3)\ntorch.nn.Module.__setattr__(net, 'w', 4)\n"
                           "setattr(torch.backends.cudnn, 'benchmark', False)\n"
                           "torch.backends.cudnn.__setattr__('benchmark', False)"),
    ("time-line", "%time loss = loss_fn(net(xtr), ytr)"),
    ("cudnn-deterministic", "torch.backends.cudnn.deterministic = True"),
    ("cudnn-benchmark", "torch.backends.cudnn.benchmark = False"),
    ("cudnn-setattr", "setattr(torch.backends.cudnn, 'benchmark', False)"),
    ("num-threads", "torch.set_num_threads(1)"),
    ("manual-seed", "torch.manual_seed(1)"),
    ("deterministic", "torch.use_deterministic_algorithms(True)"),
    ("gc-collect", "import gc\ngc.collect()"),
    ("own-getattr-setattr", """\
class Net(torch.nn.Module):
    def __init__(self, sizes):
        super().__init__()
        for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
            setattr(self, f"fc{i}", torch.nn.Linear(a, b))
        self.n = len(sizes) - 1

    def forward(self, x):
        for i in range(self.n):
            x = torch.relu(getattr(self, f"fc{i}")(x))
        return x"""),
    ("getattr-mode", "for mode in ['train', 'eval']:\n    getattr(net, mode)()"),
    ("globals-read", "names = [k for k in globals() if not k.startswith('_')]\nprint(globals().get('net'))"),
    ("globals-write", "for i in range(3):\n    globals()[f'model_{i}'] = i"),
    ("own-module", """\
class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = torch.nn.Linear(1, 512)
        self.out = torch.nn.Linear(512, 1)
        self.p = 0.8

    def forward(self, x):
        h = torch.relu(self.hidden(x))
        h = torch.nn.functional.dropout(h, self.p, training=self.training)
        return self.out(h)


net = Net()"""),
    ("data-loader", """\
from torch.utils.data import DataLoader, TensorDataset
loader = DataLoader(TensorDataset(xtr, ytr), batch_size=16, shuffle=True)
for xb, yb in loader:
    pass"""),
    ("no-grad", "with torch.no_grad():\n    yhat = net(xtest)"),
    ("inference-mode", "with torch.inference_mode():\n    yhat = net(xtest)"),
    ("set-grad-enabled-with", "with torch.set_grad_enabled(False):\n    yhat = net(xtest)"),
    ("set-grad-enabled-back-on", "torch.set_grad_enabled(True)"),
    ("honest-stdlib", "import copy, json, io, contextlib, functools, itertools, operator, types\n"
                      "net2 = copy.deepcopy(net)\nbuf = io.StringIO()\nwith contextlib.redirect_stdout(buf):\n"
                      "    print(json.dumps({'a': 1}))\nget0 = operator.itemgetter(0)\n"
                      "ns = types.SimpleNamespace(a=1)\nimport timeit\nt = timeit.timeit(lambda: net(xtest), number=3)"),
    ("honest-sys-os", "import sys, os\nprint(sys.version, sys.maxsize, os.getcwd(), os.listdir('.'))\n"
                      "os.makedirs('out', exist_ok=True)\nos.chdir('.')"),
    ("honest-torch-misc", "device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')\nnet.to(device)\n"
                          "torch.set_default_dtype(torch.float32)\nprint(torch.__version__)\n"
                          "state = torch.load('w.pt')\ntorch.save(net.state_dict(), 'w.pt')"),
    ("honest-pth-checkpoint", "torch.save(net.state_dict(), 'dropout_net.pth')\n"
                              "net.load_state_dict(torch.load('dropout_net.pth'))"),
    ("own-class-setattr-dunder", "class P:\n    def __setattr__(self, name, value):\n"
                                 "        object.__setattr__(self, name, value)\n"
                                 "        super().__setattr__(name, value)\n        self.__dict__.update({})"),
    ("functional-relu", "h = torch.nn.functional.relu(x)\nimport torch.nn.functional as F\nh = F.relu(x)"),
    ("data", "yhat = net(xtest).data\nw = net[0].weight.data"),
    ("training-loop", """\
for epoch in range(1000):
    loss = loss_fn(net(xtr), ytr)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()"""),
    ("print-fstring", "print(f'epoch {epoch}: loss={loss.item():.4f} {net!r}')"),
    ("list-comprehension", "squares = [v ** 2 for v in range(10) if v % 2]\nd = {k: v for k, v in zip('ab', [1, 2])}"),
    ("numpy-seed", "import numpy as np\nnp.random.seed(0)"),
    ("warnings", "import warnings\nwarnings.filterwarnings('ignore')"),
    ("tqdm", "from tqdm import tqdm\nfor i in tqdm(range(3)):\n    pass"),
    ("tqdm-notebook", "from tqdm.notebook import tqdm"),
    ("time", "import time\nstart = time.time()"),
    ("random", "import random\nrandom.seed(0)"),
    ("math", "import math\nr = math.sqrt(2)"),
    ("subplots-savefig", "fig, axes = plt.subplots(1, 2, figsize=(10, 4))\nfig.savefig('a.png')\nplt.show()"),
    ("open-notes", "with open('notes.txt', 'w') as f:\n    f.write('hi')"),
    ("assert", "assert xtr.shape == (80, 1), 'shape'"),
    ("try-except", "try:\n    y = 1 / 0\nexcept ZeroDivisionError as error:\n    print(error)"),
    ("lambda", "square = lambda v: v * v"),
    ("nested-helper", "def outer(x):\n    def inner(y):\n        return y + 1\n    return inner(x)"),
    ("init-zeros", "layer = torch.nn.Linear(1, 1)\ntorch.nn.init.zeros_(layer.weight)"),
    ("ipython-display", "from IPython.display import display, clear_output\ndisplay(net)\nclear_output(wait=True)"),
    ("forward-hook-on-own-net", "net.register_forward_hook(lambda m, i, o: None)"),
    ("sys-stderr-print", "import sys\nprint('x', file=sys.stderr)\nsys.stdout.flush()"),
    ("type-name", "print(type(net).__name__, net.__class__.__name__)"),
    ("own-object-attribute", "net[2].p = 0.5\nlayer.weight.data.fill_(0)"),
    ("time-magic-honest", "%time yhat = net(xtest)"),
    ("timeit-honest", "%timeit -n 3 net(xtest)"),
    ("time-cell-honest", "%%time\nfor epoch in range(3):\n    loss = loss_fn(net(xtr), ytr)"),
    ("capture-honest", "%%capture\nprint('quiet')"),
    ("env-read", "%env"),
    ("pinfo", "torch.nn.Dropout?"),
    ("who", "%whos"),
    ("pycat", "%pycat notes.txt"),
    ("syntax-error", "def f(:\n    pass"),
    ("syntax-error-exec-text", "exec(\n"),
    ("empty", ""),
    ("comment-only", "# 여기에 코드를 작성하세요\n"),
    ("not-implemented", "# 여기에 코드를 작성하세요\nraise NotImplementedError()"),
]


@pytest.mark.parametrize("source, words", [pytest.param(s, w, id=i) for i, s, w in FLAGGED])
def test_flagged(source, words):
    found = findings(source)
    assert any(words in construct for construct, _, _ in found), found


def in_magics() -> list:
    """Every flagged cell again as the body of `%%time`, and each one-line statement after `%time`."""
    cases = []
    for i, source, words in FLAGGED:
        if "%" in source or "!" in source or "?" in source or i == "too-deep":
            continue
        cases.append(pytest.param(f"%%time\n{source}", words, id=f"time-cell-{i}"))
        tree = ast.parse(source)
        if "\n" not in source and len(tree.body) == 1 and not hasattr(tree.body[0], "body"):
            cases.append(pytest.param(f"%time {source}", words, id=f"time-line-{i}"))
    return cases


@pytest.mark.parametrize("source, words", in_magics())
def test_flagged_inside_time_magics(source, words):
    found = findings(source)
    assert any(words in construct for construct, _, _ in found), found


@pytest.mark.parametrize("source", [pytest.param(s, id=i) for i, s in HONEST])
def test_not_flagged(source):
    assert findings(source) == []


@pytest.mark.parametrize("source", [pytest.param(f"%%time\n{s}", id=i) for i, s in HONEST
                                    if "%" not in s and "!" not in s and s.strip()])
def test_not_flagged_inside_time_magic(source):
    assert findings(source) == []


# -- lines point at the original source ---------------------------------------------------------
@pytest.mark.parametrize("source, line, code", [
    pytest.param("x = 1\ny = 2\nimport ctypes", 3, "import ctypes", id="plain"),
    pytest.param("%matplotlib inline\n!ls {exec(s)}\nx = 1", 2, "!ls {exec(s)}", id="after-a-magic"),
    pytest.param("%%time\nx = 1\n\nimport ctypes\n", 4, "import ctypes", id="cell-magic-body"),
    pytest.param("\n\n%%time\nx = 1\nimport ctypes", 5, "import ctypes", id="cell-magic-after-blank-lines"),
    pytest.param("print(1)\n%time \\\n    import ctypes\ny = 2", 2, "%time \\", id="continued-line-magic"),
    pytest.param("print(1)\n%time \\\n    x = 1\nimport ctypes", 4, "import ctypes", id="after-continued-magic"),
    pytest.param("%%time\n%%capture\nimport ctypes", 3, "import ctypes", id="nested-cell-magics"),
    pytest.param("%%prun -q\nx = 1\nimport ctypes", 3, "import ctypes", id="prun-body"),
    pytest.param("    x = 1\n    import ctypes", 2, "import ctypes", id="indented-cell"),
    pytest.param("x = 1 # " + "a" * 300 + "\nimport ctypes  " + "#" * 300, 2, "import ctypes  " + "#" * 185,
                 id="code-cut-at-200"),
])
def test_line_and_code(source, line, code):
    found = findings(source)
    assert [(ln, c) for _, ln, c in found] == [(line, code)], found


def test_line_map_keeps_equal_lines():
    assert line_map(["a", "b", "c"], ["a", "b", "c"]) == [1, 2, 3]
    assert line_map(["", "a"], ["a"]) == [2]


def test_aliases_carry_from_cell_to_cell():
    aliases = Aliases()
    assert scan_source("import torch.nn.functional as F", aliases) == []
    assert scan_source("F.dropout = None", aliases)[0][0] == "assignment to an attribute of torch.nn.functional"
    assert scan_source("F.dropout = None") == []  # without the import, F is the student's own object


def test_finding_evidence():
    finding = Finding("exec (runs code given as a string)", 6, 2, "exec(s)", "split")
    assert finding.evidence() == "exec (runs code given as a string) — cell 6 (split), line 2: exec(s)"
    assert "(added cell)" in Finding("x", 3, 1, "y", None).evidence()


# -- notebooks --------------------------------------------------------------------------------
def meta(grade_id: str, *, grade=False, solution=False, locked=False, points=None) -> dict:
    nbgrader = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3,
                "solution": solution, "task": False}
    if points is not None:
        nbgrader["points"] = points
    return {"nbgrader": nbgrader}


def notebook() -> nbformat.NotebookNode:
    """Given imports, a solution, a test, a given cell, an added cell, a solution, a test,
    a manually graded solution, a test and an added cell at the end."""
    code = nbformat.v4.new_code_cell
    cells = [
        code("import torch\nimport builtins", metadata=meta("imports", locked=True)),  # 0 given
        code("xtr = x[:80]\nimport ctypes", metadata=meta("split", solution=True)),  # 1 solution
        code("", metadata=meta("test_split", grade=True, locked=True, points=2)),  # 2 test
        code("import ctypes\nimport signal", metadata=meta("check", locked=True)),  # 3 given, same construct
        nbformat.v4.new_markdown_cell("## text"),  # 4
        code("import sys\n\nsys.settrace(None)"),  # 5 added by the student, no metadata
        code("def my_dropout(x, p, training=True):\n    return x", metadata=meta("my_dropout", solution=True)),  # 6
        code("", metadata=meta("test_my_dropout", grade=True, locked=True, points=3)),  # 7 test
        code("exec('1')", metadata=meta("plot", grade=True, solution=True, points=2)),  # 8 manually graded
        code("", metadata=meta("test_net", grade=True, locked=True, points=4)),  # 9 test
        code("import threading"),  # 10 added after the last test
    ]
    return nbformat.v4.new_notebook(cells=cells)


def test_student_cells():
    assert student_cells(notebook()) == [1, 5, 6, 8, 10]


def test_scan_notebook_keys_findings_by_the_autograder_cells_after_them():
    found = scan_notebook(notebook())
    assert sorted(found) == ["test_my_dropout", "test_net", "test_split"]
    ctypes = Finding("ctypes (raw memory and C calls)", 1, 2, "import ctypes", "split")
    settrace = Finding("sys.settrace (runs code on every line)", 5, 3, "sys.settrace(None)", None)
    exec_ = Finding("exec (runs code given as a string)", 8, 1, "exec('1')", "plot")
    assert found["test_split"] == [ctypes]
    assert found["test_my_dropout"] == [ctypes, settrace]
    assert found["test_net"] == [ctypes, settrace, exec_]


def test_given_cells_are_not_scanned():
    found = scan_notebook(notebook())
    cells = {f.cell for fs in found.values() for f in fs}
    assert cells == {1, 5, 8}  # not the given cells 0 and 3, nor the cell after the last test
    constructs = {f.construct for fs in found.values() for f in fs}
    assert not any("builtins" in c or "signal" in c or "threading" in c for c in constructs)


def test_source_notebook_has_no_findings():
    nb = nbformat.read(dropout.source_notebook(REPO), as_version=4)
    found = scan_notebook(nb)
    assert set(found) == set(dropout.AUTO_CELLS)
    assert all(not fs for fs in found.values()), found


def test_release_notebook_has_no_findings():
    nb = nbformat.read(dropout.release_notebook(REPO), as_version=4)
    found = scan_notebook(nb)
    assert set(found) == set(dropout.AUTO_CELLS)
    assert all(not fs for fs in found.values()), found


# -- the project's corpora ------------------------------------------------------------------
def honest_submissions() -> dict[str, dict[str, str]]:
    """Every honest answer the test corpora hold (wrong ones too), by name: solution cells."""
    from hostile import corpus as hostile_corpus
    from tampering import corpus as tampering_corpus

    from dropout_kit.assignment import Assignment

    reference = samples.reference_answers(dropout.source_notebook(REPO))
    honest = {f"corpus:{e.name}": checks_corpus.answers(e, reference) for e in checks_corpus.ENTRIES}
    defaults = {part: reference[part] for part in tampering_corpus.RIGHT_BY_DEFAULT}
    honest.update({f"tampering-honest:{name}": {**defaults, **answers}
                   for name, answers in tampering_corpus.HONEST.items()})
    honest.update({f"hostile-correct:{name}": hostile_corpus.correct_answers(name, reference)
                   for name in hostile_corpus.CORRECT})
    honest.update({f"sample:{name}": answers or {} for name, answers in
                   samples.sample_class(Assignment(dropout.ASSIGNMENT, REPO)).items()})
    return honest


def test_no_honest_answer_of_the_corpora_is_flagged():
    release = dropout.release_notebook(REPO)
    flagged = {}
    for name, answers in honest_submissions().items():
        found = scan_notebook(samples.assemble(release, answers))
        if any(found.values()):
            flagged[name] = [f.evidence() for fs in found.values() for f in fs]
    assert flagged == {}


def test_tampering_cases_are_flagged():
    from tampering import corpus as tampering_corpus

    release = dropout.release_notebook(REPO)
    reference = samples.reference_answers(dropout.source_notebook(REPO))
    context = tampering_corpus.Context(course=Path("/srv/course"), repo=REPO)
    missed = []
    for case in tampering_corpus.CASES:
        nb = samples.assemble(release, tampering_corpus.case_answers(case, reference, context))
        found = scan_notebook(nb)
        if not any(found.values()):
            missed.append(case.name)
        # only parts after an attacked cell are held
        attacked = min(i for i, c in enumerate(nb.cells) if c.get("metadata", {}).get("nbgrader", {})
                       .get("grade_id") in case.answers)
        after = [c.metadata.nbgrader.grade_id for c in nb.cells[attacked:]
                 if c.metadata.get("nbgrader", {}).get("grade") and not c.metadata.nbgrader.get("solution")]
        assert {part for part, fs in found.items() if fs} <= set(after), case.name
    assert missed == []


# -- the honest corpus: students' habits never hold a part -----------------------------------
HONEST_BY_NAME = {entry.name: entry for entry in honest_corpus.ENTRIES}


@pytest.fixture(scope="module")
def release_and_reference() -> tuple[Path, dict[str, str]]:
    return dropout.release_notebook(REPO), samples.reference_answers(dropout.source_notebook(REPO))


@pytest.mark.parametrize("name", list(HONEST_BY_NAME))
def test_honest_corpus_notebook_is_not_held(name, release_and_reference):
    """Scanned as grading scans it (every autograder cell without findings), and every cell
    the student wrote read on its own too: the habits of the cells after the last autograder
    cell (plot_modes) would hold nothing, but must not be findings either."""
    release, reference = release_and_reference
    nb = samples.assemble(release, checks_corpus.answers(HONEST_BY_NAME[name], reference))
    found = scan_notebook(nb)
    assert set(found) == set(dropout.AUTO_CELLS)
    assert {part: [f.evidence() for f in fs] for part, fs in found.items() if fs} == {}
    aliases, everywhere = Aliases(), []
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") == "code" and not is_autograder_cell(cell):
            cell_findings = scan_source(cell_source(cell), aliases)
            everywhere += cell_findings if index in student_cells(nb) else []
    assert everywhere == []
