"""Honest, correct notebooks written the way students write them (issue 32, item 4: hold only
what can change a verdict, honest work never).

Each entry is a set of solution cells ({grade_id: full cell source}) put on top of the
reference answers and assembled on the released notebook, as in tests/corpus.py. Every entry
is a correct answer that should get full marks, and none may be held by the integrity scan
(tests/test_integrity_scan.py). They carry the habits of Korean university students, most
learnt on Colab: `!pip install`, `!nvidia-smi`, `from google.colab import drive` in a
try/except, `%%time`, `%matplotlib inline`, `%config InlineBackend.figure_format = 'retina'`,
Korean names, helper functions and classes, tqdm, printing sys.version and sys.path,
IPython.core.display, warnings filters, Korean fonts for matplotlib, checkpoints saved and
loaded, a DataLoader over a TensorDataset, os.environ settings, device selection, losses
printed every 100 epochs and plotted.

What the names the assignment fixes must stay: xtr, ytr, xtest, ytest (rows 0-79 and 80-99 of
x, y), my_dropout(x, p, training=True), net (Linear(1→512) → ReLU → Dropout(0.8) →
Linear(512→1), Adam, 1000 epochs on xtr, ytr only, built and trained in the dropout_net
cell, so that the checks' re-run of that cell trains on the data they give it), loss_fn,
yhat_test, mse_eval (net.eval() first). The habit lines change nothing of what is computed
for them, except the random stream the dropout masks are drawn from (another seed, a
DataLoader drawing its own seed, a test loss computed during training).

Shell lines do not take long and need no network (the grading sandbox has none): pip is
asked about installed packages only (`pip show`, `pip list`, `pip install` of what is
installed answers "Requirement already satisfied" offline; a package that is not installed
would cost pip's retries, about 8 s, before it fails); `!nvidia-smi` fails at once on a
machine without it, printing an error in the student's cell only.
"""
from __future__ import annotations

from corpus import Entry


# -- pieces several notebooks share (each notebook writes the rest out) ---------------------
LECTURE_NET = """\
net = torch.nn.Sequential(
    torch.nn.Linear(in_features=1, out_features=512),
    torch.nn.ReLU(),
    torch.nn.Dropout(0.8),
    torch.nn.Linear(in_features=512, out_features=1),
)"""

EVAL_NO_GRAD = """\
net.eval()
with torch.no_grad():
    yhat_test = net(xtest)
mse_eval = loss_fn(yhat_test, ytest).item()"""

MY_DROPOUT_CLASS = """\
class MyDropout(torch.nn.Module):
    def __init__(self, p):
        super().__init__()
        self.p = p

    def forward(self, x):
        return my_dropout(x, self.p, self.training)"""

ENTRIES = [
    # Colab's first cell kept above the split: GPU check, pip asked about installed packages,
    # versions printed (!nvidia-smi prints "not found" where there is no GPU tool).
    Entry("colab-first-cell-above-split", {"split": """\
!nvidia-smi
!pip install -q torch tqdm
import sys
print(sys.version)
print(torch.__version__)

xtr, ytr = x[:80], y[:80]
xtest, ytest = x[80:], y[80:]"""}),

    Entry("print-sys-path-and-version", {"split": """\
import sys, os
print(sys.version)
print(sys.path)
for p in sys.path:
    print(' -', p)
print('작업 폴더:', os.getcwd())

n_train = int(len(x) * 0.8)
xtr, ytr = x[:n_train], y[:n_train]
xtest, ytest = x[n_train:], y[n_train:]
print(xtr.shape, xtest.shape)"""}),

    Entry("google-colab-drive-guarded", {"split": """\
try:
    from google.colab import drive
    drive.mount('/content/drive')
    IN_COLAB = True
except ImportError:
    IN_COLAB = False
print('Colab 환경:', IN_COLAB)

xtr, ytr = x[:80], y[:80]
xtest, ytest = x[80:], y[80:]"""}),

    Entry("matplotlib-inline-retina", {"split": """\
%matplotlib inline
%config InlineBackend.figure_format = 'retina'

xtr = x[:80]
ytr = y[:80]
xtest = x[80:]
ytest = y[80:]"""}),

    Entry("korean-font-nanumgothic", {"split": """\
import matplotlib.font_manager as fm
plt.rcParams['font.family'] = 'NanumGothic'
plt.rcParams['axes.unicode_minus'] = False
print([f.name for f in fm.fontManager.ttflist if 'Nanum' in f.name])

xtr, ytr = x[:80], y[:80]
xtest, ytest = x[80:], y[80:]""", "plot_modes": """\
fig, axes = plt.subplots(1, 2, figsize=(10, 4))
for ax, 모드 in zip(axes, ['학습모드', '평가모드']):
    net.train(모드 == '학습모드')
    with torch.no_grad():
        fit = net(x)
    ax.plot(xtr, ytr, 'o', label='학습 데이터')
    ax.plot(xtest, ytest, 'o', label='테스트 데이터')
    ax.plot(x, fit, '--k', label='net')
    ax.set_title(모드)
    ax.legend()
net.eval()
plt.show()"""}),

    # koreanize-matplotlib is installed on Colab with `!pip install koreanize-matplotlib`: that
    # line needs the network (offline pip fails only after its retries), so the student left it
    # commented out; the import is guarded.
    Entry("koreanize-matplotlib-guarded", {"split": """\
# !pip install koreanize-matplotlib
try:
    import koreanize_matplotlib
except ImportError:
    plt.rc('font', family='NanumGothic')

xtr, ytr = x[:80], y[:80]
xtest, ytest = x[80:], y[80:]"""}),

    Entry("warnings-ignored", {"split": """\
import warnings
warnings.filterwarnings('ignore')
warnings.simplefilter(action='ignore', category=FutureWarning)

xtr, ytr = x[:80], y[:80]
xtest, ytest = x[80:], y[80:]"""}),

    Entry("environ-kmp-duplicate-lib", {"split": """\
import os
os.environ['KMP_DUPLICATE_LIB_OK'] = 'TRUE'  # 맥북에서 matplotlib 이 죽는 문제
os.environ['CUDA_VISIBLE_DEVICES'] = '0'
os.environ['PYTHONHASHSEED'] = str(2024)

xtr, ytr = x[:80], y[:80]
xtest, ytest = x[80:], y[80:]"""}),

    Entry("seeds-everywhere", {"split": """\
import random
import numpy as np

SEED = 42
random.seed(SEED)
np.random.seed(SEED)
torch.manual_seed(SEED)
torch.cuda.manual_seed_all(SEED)
torch.backends.cudnn.deterministic = True
torch.backends.cudnn.benchmark = False

xtr, ytr = x[:80], y[:80]
xtest, ytest = x[80:], y[80:]"""}),

    Entry("deterministic-algorithms", {"split": """\
torch.use_deterministic_algorithms(True)
xtr, xtest = torch.split(x, [80, 20])
ytr, ytest = torch.split(y, [80, 20])"""}),

    Entry("device-selection", {"split": """\
device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
print('device:', device)
xtr, ytr = x[:80].to(device), y[:80].to(device)
xtest, ytest = x[80:].to(device), y[80:].to(device)""", "dropout_net": """\
torch.manual_seed(1)
net = torch.nn.Sequential(
    torch.nn.Linear(1, 512),
    torch.nn.ReLU(),
    torch.nn.Dropout(0.8),
    torch.nn.Linear(512, 1),
).to(device)
loss_fn = torch.nn.MSELoss()
optimizer = torch.optim.Adam(net.parameters())
for epoch in range(1000):
    yhat = net(xtr.to(device))
    loss = loss_fn(yhat, ytr.to(device))
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()""", "eval_predict": """\
net.eval()
with torch.no_grad():
    yhat_test = net(xtest.to(device)).cpu()
mse_eval = loss_fn(yhat_test, ytest.cpu()).item()
print(f'테스트 MSE (평가모드): {mse_eval:.6f}')"""}),

    Entry("split-negative-index", {"split": """\
xtr, ytr = x[:-20], y[:-20]
xtest, ytest = x[-20:], y[-20:]
print(f'학습 {len(xtr)}개, 테스트 {len(xtest)}개')"""}),

    Entry("split-korean-names", {"split": """\
전체_개수 = len(x)
학습_개수 = int(전체_개수 * 0.8)
xtr, ytr = x[:학습_개수], y[:학습_개수]
xtest, ytest = x[학습_개수:], y[학습_개수:]"""}),

    Entry("split-boolean-mask", {"split": """\
is_train = torch.arange(len(x)) < 80
xtr, ytr = x[is_train], y[is_train]
xtest, ytest = x[~is_train], y[~is_train]"""}),

    Entry("split-chunks-of-80", {"split": """\
xtr, xtest = x.split(80)
ytr, ytest = y.split(80)
assert len(xtr) == 80 and len(xtest) == 20"""}),

    Entry("dropout-bernoulli-docstring", {"my_dropout": '''\
def my_dropout(x, p, training=True):
    """p 의 확률로 원소를 0으로 만들고, 살아남은 값은 1/(1-p) 배 한다."""
    if not training:
        return x
    keep = torch.bernoulli(torch.full_like(x, 1 - p))
    return x * keep / (1 - p)'''}),

    Entry("dropout-korean-names", {"my_dropout": """\
def my_dropout(x, p, training=True):
    if training == False:
        return x.clone()
    살아남을_확률 = 1 - p
    마스크 = torch.rand_like(x) < 살아남을_확률
    return x * 마스크 / 살아남을_확률"""}),

    Entry("dropout-float-mask-assert", {"my_dropout": """\
def my_dropout(x, p, training=True):
    assert 0 <= p < 1, 'p 는 0 이상 1 미만이어야 합니다'
    if not training:
        return x.clone()
    mask = (torch.rand(x.shape) > p).float()
    return x * mask / (1 - p)"""}),

    Entry("dropout-masked-fill-with-helper", {"my_dropout": """\
def drop_mask(x, p):
    return torch.rand_like(x) < p


def my_dropout(x, p, training=True):
    if training:
        return x.masked_fill(drop_mask(x, p), 0.0) / (1 - p)
    return x.clone()


a = torch.ones(10)
print(my_dropout(a, 0.5))
print(my_dropout(a, 0.5, training=False))"""}),

    Entry("dropout-torch-where", {"my_dropout": """\
def my_dropout(x, p, training=True):
    if not training:
        return x
    dropped = torch.rand_like(x) < p
    return torch.where(dropped, torch.zeros_like(x), x / (1 - p))"""}),

    Entry("tqdm-progress-bar", {"dropout_net": f"""\
from tqdm import tqdm

torch.manual_seed(1)
{LECTURE_NET}
loss_fn = torch.nn.MSELoss()
optimizr = torch.optim.Adam(net.parameters())
for epoc in tqdm(range(1000)):
    loss = loss_fn(net(xtr), ytr)
    loss.backward()
    optimizr.step()
    optimizr.zero_grad()"""}),

    Entry("tqdm-auto-postfix", {"dropout_net": f"""\
from tqdm.auto import tqdm

torch.manual_seed(1)
{LECTURE_NET}
loss_fn = torch.nn.MSELoss()
optimizr = torch.optim.Adam(net.parameters())
pbar = tqdm(range(1000), desc='학습 중')
for epoch in pbar:
    loss = loss_fn(net(xtr), ytr)
    optimizr.zero_grad()
    loss.backward()
    optimizr.step()
    if epoch % 100 == 0:
        pbar.set_postfix(loss=f'{{loss.item():.5f}}')"""}),

    Entry("time-cell-magic-training", {"dropout_net": f"""\
%%time
torch.manual_seed(1)
{LECTURE_NET}
loss_fn = torch.nn.MSELoss()
optimizr = torch.optim.Adam(net.parameters())
for epoc in range(1000):
    loss = loss_fn(net(xtr), ytr)
    loss.backward()
    optimizr.step()
    optimizr.zero_grad()"""}),

    Entry("time-line-magic-in-eval", {"eval_predict": """\
net.eval()
with torch.no_grad():
    yhat_test = net(xtest)
%time mse_eval = loss_fn(yhat_test, ytest).item()
print(mse_eval)"""}),

    Entry("loss-printed-every-100-epochs", {"dropout_net": f"""\
torch.manual_seed(1)
{LECTURE_NET}
loss_fn = torch.nn.MSELoss()
optimizr = torch.optim.Adam(net.parameters())
for epoch in range(1000):
    yhat = net(xtr)
    loss = loss_fn(yhat, ytr)
    loss.backward()
    optimizr.step()
    optimizr.zero_grad()
    if (epoch + 1) % 100 == 0:
        print(f'epoch {{epoch + 1:4d}} | loss = {{loss.item():.6f}}')"""}),

    Entry("loss-history-plotted", {"dropout_net": f"""\
torch.manual_seed(1)
{LECTURE_NET}
loss_fn = torch.nn.MSELoss()
optimizr = torch.optim.Adam(net.parameters())
loss_history = []
for epoch in range(1000):
    loss = loss_fn(net(xtr), ytr)
    loss.backward()
    optimizr.step()
    optimizr.zero_grad()
    loss_history.append(loss.item())

plt.plot(loss_history)
plt.xlabel('epoch')
plt.ylabel('MSE loss')
plt.yscale('log')
plt.title('학습 손실')
plt.show()"""}),

    Entry("korean-epoch-count-and-history", {"dropout_net": f"""\
torch.manual_seed(1)
학습횟수 = 1000
{LECTURE_NET}
loss_fn = torch.nn.MSELoss()
최적화기 = torch.optim.Adam(net.parameters())
손실기록 = []
for 에폭 in range(학습횟수):
    손실 = loss_fn(net(xtr), ytr)
    손실.backward()
    최적화기.step()
    최적화기.zero_grad()
    손실기록.append(손실.item())
print(f'마지막 손실: {{손실기록[-1]:.6f}}')""", "plot_modes": """\
fig, axes = plt.subplots(1, 3, figsize=(15, 4))
axes[0].plot(손실기록)
axes[0].set_title('손실 기록')
for ax, training in zip(axes[1:], [True, False]):
    net.train(training)
    with torch.no_grad():
        fit = net(x)
    ax.plot(xtr, ytr, 'o', label='train')
    ax.plot(xtest, ytest, 'o', label='test')
    ax.plot(x, fit, '--k', label='net')
    ax.set_title('학습모드' if training else '평가모드')
    ax.legend()
net.eval()
plt.tight_layout()
plt.show()"""}),

    Entry("my-dropout-module-class", {"dropout_net": f"""\
torch.manual_seed(1)


{MY_DROPOUT_CLASS}


net = torch.nn.Sequential(
    torch.nn.Linear(1, 512),
    torch.nn.ReLU(),
    MyDropout(0.8),
    torch.nn.Linear(512, 1),
)
loss_fn = torch.nn.MSELoss()
optimizr = torch.optim.Adam(net.parameters())
for epoc in range(1000):
    loss = loss_fn(net(xtr), ytr)
    loss.backward()
    optimizr.step()
    optimizr.zero_grad()
print(net)"""}),

    Entry("dropout-net-class-with-my-dropout-layer", {"dropout_net": f"""\
torch.manual_seed(1)


{MY_DROPOUT_CLASS}


class DropoutNet(torch.nn.Module):
    def __init__(self, hidden=512, p=0.8):
        super().__init__()
        self.fc1 = torch.nn.Linear(1, hidden)
        self.relu = torch.nn.ReLU()
        self.dropout = MyDropout(p)
        self.fc2 = torch.nn.Linear(hidden, 1)

    def forward(self, x):
        return self.fc2(self.dropout(self.relu(self.fc1(x))))


net = DropoutNet()
loss_fn = torch.nn.MSELoss()
optimizer = torch.optim.Adam(net.parameters())
for epoch in range(1000):
    optimizer.zero_grad()
    loss = loss_fn(net(xtr), ytr)
    loss.backward()
    optimizer.step()"""}),

    Entry("helper-train-function", {"dropout_net": f"""\
torch.manual_seed(1)
{LECTURE_NET}
loss_fn = torch.nn.MSELoss()
optimizr = torch.optim.Adam(net.parameters())


def train_one_epoch(model, inputs, targets):
    model.train()
    loss = loss_fn(model(inputs), targets)
    loss.backward()
    optimizr.step()
    optimizr.zero_grad()
    return loss.item()


for epoch in range(1000):
    last_loss = train_one_epoch(net, xtr, ytr)
print('마지막 학습 손실:', last_loss)"""}),

    Entry("dataloader-full-batch", {"dropout_net": f"""\
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(1)
train_loader = DataLoader(TensorDataset(xtr, ytr), batch_size=80, shuffle=False)
{LECTURE_NET}
loss_fn = torch.nn.MSELoss()
optimizr = torch.optim.Adam(net.parameters())
for epoch in range(1000):
    for xb, yb in train_loader:
        loss = loss_fn(net(xb), yb)
        optimizr.zero_grad()
        loss.backward()
        optimizr.step()"""}),

    Entry("dataloader-shuffled-all-rows", {"dropout_net": """\
import torch.nn as nn
from torch.utils.data import TensorDataset, DataLoader

torch.manual_seed(1)
dataset = TensorDataset(xtr, ytr)
loader = DataLoader(dataset, batch_size=len(dataset), shuffle=True)
net = nn.Sequential(nn.Linear(1, 512), nn.ReLU(), nn.Dropout(p=0.8), nn.Linear(512, 1))
loss_fn = nn.MSELoss()
optimizr = torch.optim.Adam(net.parameters(), lr=0.001)
EPOCHS = 1000
for epoch in range(EPOCHS):
    for batch_x, batch_y in loader:
        optimizr.zero_grad()
        loss = loss_fn(net(batch_x), batch_y)
        loss.backward()
        optimizr.step()
    if epoch % 100 == 0:
        print(f'[{epoch}/{EPOCHS}] loss: {loss.item():.6f}')"""}),

    Entry("checkpoint-pth-saved-and-loaded", {"dropout_net": f"""\
torch.manual_seed(1)
{LECTURE_NET}
loss_fn = torch.nn.MSELoss()
optimizr = torch.optim.Adam(net.parameters())
for epoc in range(1000):
    loss = loss_fn(net(xtr), ytr)
    loss.backward()
    optimizr.step()
    optimizr.zero_grad()

torch.save(net.state_dict(), 'dropout_net.pth')
net.load_state_dict(torch.load('dropout_net.pth'))
print('dropout_net.pth 저장 후 다시 불러옴')"""}),

    Entry("checkpoint-ckpt-in-plot-cell", {"dropout_net": f"""\
torch.manual_seed(1)
{LECTURE_NET}
loss_fn = torch.nn.MSELoss()
optimizr = torch.optim.Adam(net.parameters())
for epoc in range(1000):
    loss = loss_fn(net(xtr), ytr)
    loss.backward()
    optimizr.step()
    optimizr.zero_grad()
torch.save({{'epoch': 1000, 'model_state_dict': net.state_dict(),
            'optimizer_state_dict': optimizr.state_dict(), 'loss': loss.item()}}, 'checkpoint.ckpt')""",
                                               "plot_modes": """\
checkpoint = torch.load('checkpoint.ckpt', weights_only=True)
restored = torch.nn.Sequential(
    torch.nn.Linear(1, 512), torch.nn.ReLU(), torch.nn.Dropout(0.8), torch.nn.Linear(512, 1))
restored.load_state_dict(checkpoint['model_state_dict'])
print('epoch', checkpoint['epoch'], 'loss', checkpoint['loss'])

fig, axes = plt.subplots(1, 2, figsize=(10, 4))
for ax, training in zip(axes, [True, False]):
    restored.train(training)
    with torch.no_grad():
        fit = restored(x)
    ax.plot(xtr, ytr, 'o', label="train")
    ax.plot(xtest, ytest, 'o', label="test")
    ax.plot(x, fit, '--k', label="net")
    ax.set_title("training mode" if training else "evaluation mode")
    ax.legend()
net.eval()
plt.show()"""}),

    Entry("checkpoint-pt-best-model", {"dropout_net": f"""\
torch.manual_seed(1)
{LECTURE_NET}
loss_fn = torch.nn.MSELoss()
optimizr = torch.optim.Adam(net.parameters())
best = float('inf')
for epoc in range(1000):
    loss = loss_fn(net(xtr), ytr)
    loss.backward()
    optimizr.step()
    optimizr.zero_grad()
    if epoc % 100 == 99 and loss.item() < best:
        best = loss.item()
        torch.save(net.state_dict(), 'best_model.pt')
print('가장 낮은 학습 손실:', best)"""}),

    Entry("test-loss-watched-during-training", {"dropout_net": f"""\
torch.manual_seed(1)
{LECTURE_NET}
loss_fn = torch.nn.MSELoss()
optimizr = torch.optim.Adam(net.parameters())
train_losses, test_losses = [], []
for epoch in range(1000):
    net.train()
    loss = loss_fn(net(xtr), ytr)
    loss.backward()
    optimizr.step()
    optimizr.zero_grad()
    if epoch % 100 == 0:
        net.eval()
        with torch.no_grad():
            test_loss = loss_fn(net(xtest), ytest)
        net.train()
        train_losses.append(loss.item())
        test_losses.append(test_loss.item())
        print(f'{{epoch:4d}}  train {{loss.item():.6f}}  test {{test_loss.item():.6f}}')"""}),

    Entry("ipython-core-display-html", {"eval_predict": f"""\
# IPython 9 keeps display() in IPython.display only
try:
    from IPython.core.display import display, HTML
except ImportError:
    from IPython.display import display, HTML

{EVAL_NO_GRAD}
display(HTML(f'<b>평가모드 테스트 MSE</b>: {{mse_eval:.6f}} (드랍아웃 없음: {{mse_nodrop:.6f}})'))"""}),

    Entry("ipython-core-display-markdown", {"eval_predict": f"""\
from IPython.core.display import Markdown
from IPython.display import display

{EVAL_NO_GRAD}
display(Markdown(f'**MSE** 드랍아웃 {{mse_eval:.6f}} / 드랍아웃 없음 {{mse_nodrop:.6f}}'))"""}),

    Entry("eval-inference-mode-fstring", {"eval_predict": """\
net.eval()
with torch.inference_mode():
    yhat_test = net(xtest)
mse_eval = torch.nn.functional.mse_loss(yhat_test, ytest).item()
print(f'드랍아웃(평가모드) 테스트 MSE = {mse_eval:.6f}')
print(f'드랍아웃 없음 테스트 MSE   = {mse_nodrop:.6f}')
print('드랍아웃이 더 좋음' if mse_eval < mse_nodrop else '드랍아웃이 더 나쁨')"""}),

    Entry("eval-detach-manual-mse", {"eval_predict": """\
net.eval()
yhat_test = net(xtest).detach()
mse_eval = ((yhat_test - ytest) ** 2).mean().item()
assert not net.training"""}),

    Entry("pip-magics-and-shell-listing", {"split": """\
%pip show torch
!pip list | grep -i torch
!python --version
!ls -la
xtr, ytr = x[:80], y[:80]
xtest, ytest = x[80:], y[80:]"""}),

    Entry("shell-output-captured", {"split": """\
files = !ls
print(len(files), '개의 파일')
gpu = !nvidia-smi -L
print(gpu)
!!pwd
xtr, ytr = x[0:80, :], y[0:80, :]
xtest, ytest = x[80:100, :], y[80:100, :]"""}),

    Entry("shell-expands-python-names", {"split": """\
학습_개수 = 80
!echo "학습 {학습_개수}개, 테스트 {len(x) - 학습_개수}개"
!echo $학습_개수
xtr, ytr = x[:학습_개수], y[:학습_개수]
xtest, ytest = x[학습_개수:], y[학습_개수:]"""}),

    # Everything a Colab notebook of the course tends to carry, in one notebook.
    Entry("colab-everything", {"split": """\
!nvidia-smi
!pip install torch matplotlib
%matplotlib inline
%config InlineBackend.figure_format = 'retina'
import os, sys, random, warnings
import numpy as np
import matplotlib.font_manager as fm
from IPython.core.display import HTML
warnings.filterwarnings('ignore')
os.environ['KMP_DUPLICATE_LIB_OK'] = 'TRUE'
try:
    from google.colab import drive
    drive.mount('/content/drive')
except ImportError:
    print('로컬 환경입니다')
print(sys.version)
print(sys.path)
plt.rcParams['font.family'] = 'NanumGothic'
plt.rcParams['axes.unicode_minus'] = False
random.seed(1)
np.random.seed(1)
device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')

xtr, ytr = x[:80], y[:80]
xtest, ytest = x[80:], y[80:]""", "my_dropout": """\
def my_dropout(x, p, training=True):
    if not training:
        return x.clone()
    mask = (torch.rand_like(x) >= p).to(x.dtype)  # p 의 확률로 0
    return x * mask / (1 - p)  # 살아남은 값은 1/(1-p) 배""", "dropout_net": """\
%%time
from tqdm.auto import tqdm
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(1)


class MyDropout(torch.nn.Module):
    def __init__(self, p):
        super().__init__()
        self.p = p

    def forward(self, x):
        return my_dropout(x, self.p, self.training)


학습횟수 = 1000
loader = DataLoader(TensorDataset(xtr, ytr), batch_size=80)
net = torch.nn.Sequential(
    torch.nn.Linear(1, 512),
    torch.nn.ReLU(),
    MyDropout(0.8),
    torch.nn.Linear(512, 1),
).to(device)
loss_fn = torch.nn.MSELoss()
optimizr = torch.optim.Adam(net.parameters())
loss_history = []
for epoch in tqdm(range(학습횟수)):
    for xb, yb in loader:
        xb, yb = xb.to(device), yb.to(device)
        loss = loss_fn(net(xb), yb)
        optimizr.zero_grad()
        loss.backward()
        optimizr.step()
    loss_history.append(loss.item())
    if (epoch + 1) % 100 == 0:
        print(f'epoch {epoch + 1}: loss {loss.item():.6f}')
torch.save(net.state_dict(), 'dropout_net.pth')
net.load_state_dict(torch.load('dropout_net.pth', map_location=device))""", "eval_predict": """\
net.eval()
with torch.no_grad():
    yhat_test = net(xtest.to(device)).cpu()
mse_eval = loss_fn(yhat_test, ytest).item()
display(HTML(f'<h4>테스트 MSE: {mse_eval:.6f}</h4>'))""", "plot_modes": """\
fig, axes = plt.subplots(1, 3, figsize=(15, 4))
axes[0].plot(loss_history)
axes[0].set_title('학습 손실')
for ax, training in zip(axes[1:], [True, False]):
    net.train(training)
    with torch.no_grad():
        fit = net(x.to(device)).cpu()
    ax.plot(xtr, ytr, 'o', label='학습')
    ax.plot(xtest, ytest, 'o', label='테스트')
    ax.plot(x, fit, '--k', label='net')
    ax.set_title('학습모드' if training else '평가모드')
    ax.legend()
net.eval()
plt.tight_layout()
plt.show()""", "why_dropout": """\
드랍아웃은 학습할 때마다 은닉 노드의 80%를 임의로 꺼서, 특정 노드가 학습 데이터의 잡음을 외우지 못하게 합니다.
평가모드에서는 모든 노드를 쓰므로 여러 작은 네트워크의 평균처럼 매끄러운 예측이 나오고, 그래서
`mse_eval` 이 `mse_nodrop` 보다 작습니다."""}),

    Entry("plot-cell-saves-figure", {"plot_modes": """\
%matplotlib inline
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
net.train()
with torch.no_grad():
    ax1.plot(x, net(x), '--k', label='net (train mode)')
net.eval()
with torch.no_grad():
    ax2.plot(x, net(x), '--k', label='net (eval mode)')
for ax, title in [(ax1, 'training mode'), (ax2, 'evaluation mode')]:
    ax.plot(xtr, ytr, 'o', label='train')
    ax.plot(xtest, ytest, 'o', label='test')
    ax.set_title(title)
    ax.legend()
fig.savefig('dropout_modes.png', dpi=150, bbox_inches='tight')
plt.show()"""}),

    Entry("globals-check-before-eval", {"eval_predict": f"""\
for name in ['net', 'loss_fn', 'xtest', 'ytest']:
    assert name in globals(), name + ' 이 정의되지 않았습니다'
{EVAL_NO_GRAD}
print(type(net).__name__, net.training, round(mse_eval, 6))"""}),
]

assert len({e.name for e in ENTRIES}) == len(ENTRIES), "honest corpus entry names must be unique"
