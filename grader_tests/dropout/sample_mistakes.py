"""Sample submissions for the demo and the tests: realistic mistakes, each one wrong answer
put on top of the reference solution (dropout_kit.harness.samples.sample_class). They live with
the hidden checks, not in the installable package, as they are built from the solutions.
"""

MISTAKES: dict[str, dict[str, str]] = {
    "shuffled-split": {"split": """\
idx = torch.randperm(100)
xtr, ytr = x[idx[:80]], y[idx[:80]]
xtest, ytest = x[idx[80:]], y[idx[80:]]"""},
    "torch-dropout": {"my_dropout": """\
def my_dropout(x, p, training=True):
    return torch.nn.functional.dropout(x, p, training)"""},
    "no-scaling": {"my_dropout": """\
def my_dropout(x, p, training=True):
    if not training:
        return x.clone()
    return x * (torch.rand_like(x) >= p)"""},
    "trained-on-all-data": {"dropout_net": """\
torch.manual_seed(1)
net = torch.nn.Sequential(
    torch.nn.Linear(in_features=1, out_features=512),
    torch.nn.ReLU(),
    torch.nn.Dropout(0.8),
    torch.nn.Linear(in_features=512, out_features=1),
)
loss_fn = torch.nn.MSELoss()
optimizr = torch.optim.Adam(net.parameters())
for epoc in range(1000):
    loss = loss_fn(net(x), y)
    loss.backward()
    optimizr.step()
    optimizr.zero_grad()"""},
    "no-eval-mode": {"eval_predict": """\
yhat_test = net(xtest).data
mse_eval = loss_fn(yhat_test, ytest).item()"""},
}
