"""Tests of cnnkernels.nn: every layer's backward against central finite differences (float64, tiny
shapes, the loss a random linear functional of the output); a small LeNet-like model and SGD against
PyTorch with copied weights (where torch is importable); state dicts, save/load, repr, train/eval and
errors; the LeNet-5 example (where scikit-learn is importable)."""

import importlib.util
import pathlib

import numpy as np
import pytest

import cnnkernels as ck
import cnnkernels.nn as cnn

F64 = np.float64
EXAMPLE = pathlib.Path(__file__).resolve().parent.parent / "examples" / "lenet5_digits.py"


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """These shapes are tiny: one kernel thread (on a busy machine each parallel region of the default
    OpenMP wait policy can cost a scheduler tick), restored afterwards."""
    before = ck.get_num_threads()
    ck.set_num_threads(1)
    yield
    ck.set_num_threads(before)


# --------------------------------------------------------------------------------------------------
# finite differences
# --------------------------------------------------------------------------------------------------

def numeric_grad(f, a, eps=1e-6):
    """Central differences of the scalar f() with respect to the array a (perturbed in place)."""
    g = np.zeros_like(a)
    flat, gflat = a.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        v = flat[i]
        flat[i] = v + eps
        up = f()
        flat[i] = v - eps
        down = f()
        flat[i] = v
        gflat[i] = (up - down) / (2 * eps)
    return g


def check_grads(module, x, rng, tol=1e-6):
    """module.backward against finite differences of sum(module(x) * R), for x and every parameter."""
    module.train()
    R = rng.standard_normal(module(x).shape)

    def loss():
        return float(np.sum(module(x) * R))

    module.zero_grad()
    module(x)
    gx = module.backward(R)
    assert gx.shape == x.shape and gx.dtype == x.dtype
    analytic = [("input", gx)] + [(n, p.grad.copy()) for n, p in module.named_parameters()]
    numeric = [("input", numeric_grad(loss, x))]
    numeric += [(n, numeric_grad(loss, p.data)) for n, p in module.named_parameters()]
    for (name, a), (_, n) in zip(analytic, numeric):
        scale = max(1.0, np.abs(n).max())
        np.testing.assert_allclose(a, n, rtol=0, atol=tol * scale, err_msg=f"gradient of {name}")


def seeded(build):
    cnn.manual_seed(0)
    return build()


CONV_CASES = [
    dict(in_channels=2, out_channels=3, kernel_size=3),
    dict(in_channels=2, out_channels=2, kernel_size=(3, 2), stride=2, padding=1, bias=False),
    dict(in_channels=4, out_channels=2, kernel_size=2, dilation=2, groups=2, padding=((1, 0), (2, 1))),
    dict(in_channels=1, out_channels=2, kernel_size=3, padding="same"),
]


@pytest.mark.parametrize("kw", CONV_CASES, ids=range(len(CONV_CASES)))
def test_conv2d_grads(rng, kw):
    m = seeded(lambda: cnn.Conv2d(**kw, dtype=F64))
    x = rng.standard_normal((2, kw["in_channels"], 6, 5))
    check_grads(m, x, rng)


@pytest.mark.parametrize("algo", ["direct", "im2col", "fft"])
def test_conv2d_algos_agree(rng, algo):
    x = rng.standard_normal((2, 3, 7, 7))
    g = rng.standard_normal((2, 4, 4, 4))
    grads = {}
    for a in ("auto", algo):
        m = seeded(lambda: cnn.Conv2d(3, 4, 3, stride=2, padding=1, algo=a, dtype=F64))
        y = m(x)
        grads[a] = [y, m.backward(g), m.weight.grad, m.bias.grad]
    for u, v in zip(grads["auto"], grads[algo]):
        np.testing.assert_allclose(u, v, rtol=1e-10, atol=1e-12)


POOL_CASES = [
    (lambda: cnn.MaxPool2d(2), (2, 2, 4, 6)),
    (lambda: cnn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True), (1, 2, 6, 5)),
    (lambda: cnn.MaxPool2d(2, stride=1, dilation=2), (1, 2, 5, 5)),
    (lambda: cnn.AvgPool2d(2), (2, 2, 4, 4)),
    (lambda: cnn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False), (1, 2, 6, 5)),
    (lambda: cnn.AvgPool2d((2, 3), stride=1, divisor_override=4), (1, 1, 4, 5)),
    (lambda: cnn.LPPool2d(2, 2), (2, 2, 4, 4)),
    (lambda: cnn.LPPool2d(3, (2, 3), stride=(1, 2)), (1, 2, 4, 7)),
    (lambda: cnn.LPPool2d(2, 3, stride=2, ceil_mode=True), (1, 2, 5, 6)),
    (lambda: cnn.FeatureLPPool(2, 2), (2, 4, 3, 3)),
    (lambda: cnn.FeatureLPPool(3, 3, stride=1), (1, 5, 2, 3)),
    (lambda: cnn.LocalContrastNorm(5, sigma=1.5), (2, 2, 6, 6)),
    (lambda: cnn.LocalContrastNorm(3, sigma=1.0, eps=1e-3), (1, 3, 4, 5)),
]


@pytest.mark.parametrize("build,shape", POOL_CASES, ids=[repr(b()) for b, _ in POOL_CASES])
def test_pool_and_norm_grads(rng, build, shape):
    m = build()
    x = rng.standard_normal(shape)
    if getattr(m, "norm_type", 2) != 2:
        x = np.abs(x) + 0.1          # x**p of negative x with odd p: keep to where the norm is smooth
    check_grads(m, x, rng)


SIMPLE_CASES = [
    (lambda: cnn.Linear(5, 3, dtype=F64), (4, 5)),
    (lambda: cnn.Linear(4, 2, bias=False, dtype=F64), (2, 3, 4)),
    (lambda: cnn.ReLU(), (3, 4)),
    (lambda: cnn.Tanh(), (2, 3, 2)),
    (lambda: cnn.Sigmoid(), (5,)),
    (lambda: cnn.Flatten(), (2, 3, 2, 2)),
    (lambda: cnn.Flatten(0, 2), (2, 3, 2, 2)),
    (lambda: cnn.Sequential(cnn.Conv2d(2, 3, 3, padding=1, dtype=F64), cnn.Tanh(), cnn.MaxPool2d(2),
                            cnn.Flatten(), cnn.Linear(12, 4, dtype=F64), cnn.ReLU(), cnn.Linear(4, 3, dtype=F64)),
     (2, 2, 4, 4)),
]


@pytest.mark.parametrize("build,shape", SIMPLE_CASES, ids=range(len(SIMPLE_CASES)))
def test_simple_layer_grads(rng, build, shape):
    check_grads(seeded(build), rng.standard_normal(shape), rng)


def test_cross_entropy_grad(rng):
    logits = rng.standard_normal((5, 4))
    labels = rng.integers(0, 4, 5)
    for reduction in ("mean", "sum"):
        loss_fn = cnn.CrossEntropyLoss(reduction=reduction)
        loss_fn(logits, labels)
        g = loss_fn.backward()
        n = numeric_grad(lambda: loss_fn(logits, labels), logits)
        np.testing.assert_allclose(g, n, rtol=0, atol=1e-8)


def test_cross_entropy_stable():
    logits = np.array([[1e4, 0.0, -1e4], [-1e4, -1e4, -1e4 + 1]], dtype=np.float32)
    loss_fn = cnn.CrossEntropyLoss()
    loss = loss_fn(logits, np.array([0, 2]))
    assert np.isfinite(loss) and abs(loss - np.log1p(2 * np.exp(-1.0)) / 2) < 1e-6
    g = loss_fn.backward()
    assert g.dtype == np.float32 and np.all(np.isfinite(g))


def test_dropout(rng):
    x = rng.standard_normal((200, 50))
    d = cnn.Dropout(0.3)
    y = d(x)
    kept = y != 0
    assert 0.65 < kept.mean() < 0.75
    np.testing.assert_allclose(y[kept], x[kept] / 0.7)
    g = rng.standard_normal(x.shape)
    np.testing.assert_allclose(d.backward(g), np.where(kept, g / 0.7, 0))
    d.eval()
    assert d(x) is x
    with pytest.raises(RuntimeError, match="no cached forward"):
        d.backward(g)
    d.train()
    assert np.all(cnn.Dropout(1.0)(x) == 0) and np.array_equal(cnn.Dropout(0.0)(x), x)
    cnn.manual_seed(3)
    a = cnn.Dropout()(x)
    cnn.manual_seed(3)
    assert np.array_equal(a, cnn.Dropout()(x))


def test_grads_accumulate_and_zero_grad(rng):
    m = seeded(lambda: cnn.Linear(3, 2, dtype=F64))
    x, g = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    m(x)
    m.backward(g)
    first = m.weight.grad.copy()
    m(x)
    m.backward(g)
    np.testing.assert_allclose(m.weight.grad, 2 * first)
    m.zero_grad(set_to_none=False)
    assert np.all(m.weight.grad == 0)
    m.zero_grad()
    assert m.weight.grad is None and m.bias.grad is None


def test_backward_without_input_grad(rng):
    """input_grad=False: None back, the same parameter gradients, and no gradient work before the first
    layer with parameters (a parameterless first layer, and the nested Sequential's first conv)."""
    def build():
        return cnn.Sequential(cnn.Tanh(), cnn.Sequential(cnn.Conv2d(2, 3, 3, dtype=F64), cnn.ReLU()),
                              cnn.Flatten(), cnn.Linear(3 * 4 * 4, 2, dtype=F64))
    a, b = seeded(build), seeded(build)
    x, g = rng.standard_normal((2, 2, 6, 6)), rng.standard_normal((2, 2))
    a(x)
    assert a.backward(g).shape == x.shape
    b(x)
    assert b.backward(g, input_grad=False) is None
    for (name, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_allclose(q.grad, p.grad, rtol=1e-12, err_msg=name)


# --------------------------------------------------------------------------------------------------
# against PyTorch
# --------------------------------------------------------------------------------------------------

def small_lenet(dtype=F64):
    # (N, 1, 12, 12) -> conv 4@3x3 pad 1 -> (N, 4, 12, 12) -> max 2 -> (N, 4, 6, 6) -> conv 6@3x3
    # -> (N, 6, 4, 4) -> avg 2 -> (N, 6, 2, 2) -> 24 -> 16 -> 5 classes
    return cnn.Sequential(cnn.Conv2d(1, 4, 3, padding=1, dtype=dtype), cnn.Tanh(), cnn.MaxPool2d(2),
                          cnn.Conv2d(4, 6, 3, dtype=dtype), cnn.ReLU(), cnn.AvgPool2d(2), cnn.Flatten(),
                          cnn.Linear(24, 16, dtype=dtype), cnn.ReLU(), cnn.Linear(16, 5, dtype=dtype))


def torch_copy(model):
    """The same Sequential in torch (float64), with the weights copied."""
    torch = pytest.importorskip("torch")
    tnn = torch.nn
    layers = []
    for m in model:
        name = type(m).__name__
        if name == "Conv2d":
            t = tnn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding, m.dilation,
                           m.groups, bias=m.bias is not None)
        elif name == "Linear":
            t = tnn.Linear(m.in_features, m.out_features, bias=m.bias is not None)
        elif name == "MaxPool2d":
            t = tnn.MaxPool2d(m.kernel_size, m.stride, m.padding, m.dilation, ceil_mode=m.ceil_mode)
        elif name == "AvgPool2d":
            t = tnn.AvgPool2d(m.kernel_size, m.stride, m.padding)
        else:
            t = getattr(tnn, name)()
        layers.append(t)
    tm = tnn.Sequential(*layers).double()
    tm.load_state_dict({k: torch.from_numpy(v.astype(F64)) for k, v in model.state_dict().items()})
    return tm


def test_model_against_torch(rng):
    torch = pytest.importorskip("torch")
    model = seeded(small_lenet)
    tmodel = torch_copy(model)
    x = rng.standard_normal((3, 1, 12, 12))
    labels = np.array([0, 4, 2])
    loss_fn = cnn.CrossEntropyLoss()
    loss = loss_fn(model(x), labels)
    gx = model.backward(loss_fn.backward())

    tx = torch.from_numpy(x.copy()).requires_grad_(True)
    tlogits = tmodel(tx)
    tloss = torch.nn.CrossEntropyLoss()(tlogits, torch.from_numpy(labels))
    tloss.backward()
    np.testing.assert_allclose(model(x), tlogits.detach().numpy(), rtol=1e-12, atol=1e-13)
    assert abs(loss - tloss.item()) < 1e-12
    np.testing.assert_allclose(gx, tx.grad.numpy(), rtol=1e-10, atol=1e-13)
    tgrads = dict(tmodel.named_parameters())
    names = [n for n, _ in model.named_parameters()]
    assert names == list(tgrads)
    for name, p in model.named_parameters():
        np.testing.assert_allclose(p.grad, tgrads[name].grad.numpy(), rtol=1e-10, atol=1e-13, err_msg=name)


SGD_CASES = [dict(lr=0.1), dict(lr=0.05, momentum=0.9), dict(lr=0.05, momentum=0.9, nesterov=True),
             dict(lr=0.02, momentum=0.8, dampening=0.3, weight_decay=0.01),
             dict(lr=0.1, weight_decay=0.1), dict(lr=0.05, momentum=0.5, nesterov=True, weight_decay=1e-3)]


@pytest.mark.parametrize("kw", SGD_CASES, ids=range(len(SGD_CASES)))
def test_sgd_against_torch(rng, kw):
    torch = pytest.importorskip("torch")
    model = seeded(small_lenet)
    tmodel = torch_copy(model)
    opt = cnn.SGD(model.parameters(), **kw)
    topt = torch.optim.SGD(tmodel.parameters(), **kw)
    loss_fn, tloss_fn = cnn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    for step in range(4):
        x = rng.standard_normal((4, 1, 12, 12))
        labels = rng.integers(0, 5, 4)
        loss_fn(model(x), labels)
        model.backward(loss_fn.backward())
        opt.step()
        opt.zero_grad()
        tloss_fn(tmodel(torch.from_numpy(x)), torch.from_numpy(labels)).backward()
        topt.step()
        topt.zero_grad()
    for (name, p), tp in zip(model.named_parameters(), tmodel.parameters()):
        np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-10, atol=1e-12, err_msg=name)
        assert p.grad is None


def test_sgd_skips_params_without_grad_and_updates_in_place():
    a, b = cnn.Parameter(np.ones(3)), cnn.Parameter(np.ones(2))
    data = a.data
    a.grad = np.full(3, 2.0)
    cnn.SGD([a, b], lr=0.5, momentum=0.9).step()
    assert a.data is data and np.allclose(a.data, 0.0) and np.allclose(b.data, 1.0)


def test_default_init():
    cnn.manual_seed(1)
    conv = cnn.Conv2d(8, 16, 3, groups=2)
    lin = cnn.Linear(200, 300)
    for p, fan_in in ((conv.weight, 4 * 9), (conv.bias, 4 * 9), (lin.weight, 200), (lin.bias, 200)):
        bound = 1 / np.sqrt(fan_in)
        assert p.dtype == np.float32 and np.abs(p.data).max() <= bound
        assert np.abs(p.data).max() > 0.9 * bound
    assert abs(lin.weight.data.std() - 1 / np.sqrt(3 * 200)) < 1e-3
    cnn.manual_seed(1)
    assert np.array_equal(cnn.Conv2d(8, 16, 3, groups=2).weight.data, conv.weight.data)
    assert cnn.Linear(2, 2, dtype=np.float64).weight.dtype == np.float64
    assert cnn.Linear(2, 2, dtype=None).weight.dtype == np.float32      # torch: None is the default


# --------------------------------------------------------------------------------------------------
# state, repr, modes, errors
# --------------------------------------------------------------------------------------------------

def test_state_dict_round_trip(rng, tmp_path):
    cnn.manual_seed(0)
    a = small_lenet(np.float32)
    b = small_lenet(np.float32)
    x = rng.standard_normal((2, 1, 12, 12)).astype(np.float32)
    state = a.state_dict()
    assert list(state) == ["0.weight", "0.bias", "3.weight", "3.bias", "7.weight", "7.bias", "9.weight", "9.bias"]
    state["0.weight"][...] = 7          # a copy: the model is unchanged
    assert not np.any(a[0].weight.data == 7)
    assert not np.array_equal(a(x), b(x))
    b.load_state_dict(a.state_dict())
    np.testing.assert_array_equal(a(x), b(x))

    c = small_lenet(np.float32)
    a.save(tmp_path / "m.npz")
    weight = c[0].weight.data
    assert c.load(tmp_path / "m.npz") is c
    assert c[0].weight.data is weight   # loaded in place
    np.testing.assert_array_equal(a(x), c(x))


def test_load_state_dict_errors():
    m = seeded(small_lenet)
    before = m.state_dict()
    state = m.state_dict()
    with pytest.raises(ValueError, match=r"missing keys \['9.bias'\]"):
        m.load_state_dict({k: v for k, v in state.items() if k != "9.bias"})
    with pytest.raises(ValueError, match="unexpected keys.*'extra'"):
        m.load_state_dict(dict(state, extra=np.zeros(1)))
    bad = dict(state)
    bad["3.weight"] = np.zeros((6, 4, 3, 2))
    with pytest.raises(ValueError, match="'3.weight' has shape"):
        m.load_state_dict(bad)
    bad = {k: v.astype(np.float32) for k, v in state.items()}
    bad["0.weight"] = state["0.weight"] + 1
    with pytest.raises(ValueError, match="'0.bias' has dtype float32"):
        m.load_state_dict(bad)
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v, before[k])      # nothing changed by a failed load
    partial = {"0.bias": np.ones(4), "extra": np.ones(1)}
    missing, unexpected = m.load_state_dict(partial, strict=False)
    assert unexpected == ["extra"] and "0.bias" not in missing and len(missing) == 7
    assert np.all(m[0].bias.data == 1)


def test_repr():
    model = seeded(lambda: cnn.Sequential(cnn.Conv2d(1, 6, 5), cnn.ReLU(), cnn.MaxPool2d(2),
                                          cnn.Sequential(cnn.Flatten(), cnn.Linear(4, 2, bias=False))))
    assert repr(model) == """Sequential(
  (0): Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1))
  (1): ReLU()
  (2): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)
  (3): Sequential(
    (0): Flatten(start_dim=1, end_dim=-1)
    (1): Linear(in_features=4, out_features=2, bias=False)
  )
)"""
    assert repr(cnn.Conv2d(4, 4, (3, 1), 2, 1, 2, 2)) == ("Conv2d(4, 4, kernel_size=(3, 1), stride=(2, 2), "
                                                         "padding=(1, 1), dilation=(2, 2), groups=2)")
    assert repr(cnn.Conv2d(3, 4, 3, padding="same", bias=False)) == (
        "Conv2d(3, 4, kernel_size=(3, 3), stride=(1, 1), padding=same, bias=False)")
    assert repr(cnn.AvgPool2d(3, 2, 1)) == "AvgPool2d(kernel_size=3, stride=2, padding=1)"
    assert repr(cnn.LPPool2d(2, 2)) == "LPPool2d(norm_type=2, kernel_size=2, stride=None, ceil_mode=False)"
    assert repr(cnn.LocalContrastNorm()) == "LocalContrastNorm(kernel_size=9, sigma=2.0, eps=0.0001)"
    assert repr(cnn.CrossEntropyLoss()) == "CrossEntropyLoss()"
    assert repr(cnn.Dropout(0.2)) == "Dropout(p=0.2)"


def test_sequential_container():
    layers = [cnn.ReLU(), cnn.Tanh(), cnn.Flatten()]
    s = cnn.Sequential(*layers)
    assert len(s) == 3 and list(s) == layers and s[1] is layers[1] and s[-1] is layers[2]
    assert isinstance(s[1:], cnn.Sequential) and list(s[1:]) == layers[1:]
    with pytest.raises(TypeError, match="argument 1"):
        cnn.Sequential(cnn.ReLU(), np.tanh)


def test_train_eval_and_backward_without_forward(rng):
    model = seeded(small_lenet)
    x = rng.standard_normal((2, 1, 12, 12))
    assert model.training and all(m.training for m in model)
    assert model.eval() is model and not any(m.training for m in model.modules())
    y = model(x)
    with pytest.raises(RuntimeError, match="Linear.backward: no cached forward"):
        model.backward(np.ones_like(y))
    model.train()
    with pytest.raises(RuntimeError, match="no cached forward"):
        cnn.Conv2d(1, 1, 1).backward(np.zeros((1, 1, 1, 1), np.float32))
    model(x)
    model.backward(np.ones_like(y))
    with pytest.raises(RuntimeError, match="no cached forward"):
        model.backward(np.ones_like(y))           # the cache is consumed, as PyTorch frees its graph
    with pytest.raises(RuntimeError, match="CrossEntropyLoss.backward"):
        cnn.CrossEntropyLoss().backward()


def test_errors(rng):
    conv = cnn.Conv2d(1, 2, 3)                      # float32
    with pytest.raises(TypeError, match="float64 differs from the weights' dtype float32"):
        conv(rng.standard_normal((1, 1, 5, 5)))
    with pytest.raises(TypeError, match="numpy.ndarray"):
        cnn.ReLU()([1.0, -1.0])
    with pytest.raises(TypeError, match="float32 or float64"):
        cnn.Tanh()(np.arange(3))
    with pytest.raises(TypeError, match="dtype"):
        cnn.Linear(2, 2, dtype=np.int32)
    with pytest.raises(ValueError, match="groups=2 must divide"):
        cnn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="in_features=3"):
        cnn.Linear(3, 2)(np.zeros((2, 4), np.float32))
    y = conv(np.zeros((1, 1, 5, 5), np.float32))
    with pytest.raises(ValueError, match="grad_out has shape"):
        conv.backward(np.zeros((1, 2, 2, 2), np.float32))
    with pytest.raises(TypeError, match="grad_out dtype"):
        conv.backward(np.zeros(y.shape, np.float64))
    loss_fn = cnn.CrossEntropyLoss()
    with pytest.raises(TypeError, match="integers"):
        loss_fn(np.zeros((2, 3)), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"in \[0, 3\)"):
        loss_fn(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match="shape"):
        loss_fn(np.zeros((2, 3)), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="Nesterov"):
        cnn.SGD(conv.parameters(), lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="lr"):
        cnn.SGD(conv.parameters(), lr=-1)
    with pytest.raises(ValueError, match="p must be"):
        cnn.Dropout(1.5)


# --------------------------------------------------------------------------------------------------
# the example
# --------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def example():
    pytest.importorskip("sklearn")
    spec = importlib.util.spec_from_file_location("lenet5_digits", EXAMPLE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_example_models_train_a_step(example):
    x = np.random.default_rng(0).standard_normal((4, 1, 32, 32)).astype(np.float32)
    labels = np.array([0, 1, 2, 3])
    for kw in (dict(arch="lenet5", act="tanh"), dict(arch="lenet5", act="relu"), dict(arch="jarrett")):
        cnn.manual_seed(0)
        model = example.build_model(**kw)
        assert model(x).shape == (4, 10)
        loss_fn = cnn.CrossEntropyLoss()
        opt = cnn.SGD(model.parameters(), lr=0.05, momentum=0.9)
        before = loss_fn(model(x), labels)
        for _ in range(3):
            loss_fn(model(x), labels)
            model.backward(loss_fn.backward())
            opt.step()
            opt.zero_grad()
        assert loss_fn(model(x), labels) < before, kw


def test_example_runs_one_epoch(example, capsys):
    history = example.main(["--epochs", "1", "--train-limit", "128", "--test-limit", "64"])
    out = capsys.readouterr().out
    assert "epoch  1  loss" in out and "test accuracy:" in out
    assert len(history["loss"]) == 1 and 0 <= history["accuracy"][0] <= 1


def test_example_plot_needs_matplotlib(example, monkeypatch, tmp_path):
    import sys
    monkeypatch.setitem(sys.modules, "matplotlib", None)     # makes `import matplotlib` fail
    with pytest.raises(SystemExit, match="matplotlib"):
        example.plot_history({"loss": [1.0], "accuracy": [0.5]}, tmp_path / "p.png")


# -- .to(device) -------------------------------------------------------------------------------------------

def test_to_cpu_keeps_numpy_and_unknown_devices_are_refused():
    model = cnn.Sequential(cnn.Conv2d(1, 2, 3), cnn.Tanh(), cnn.Flatten(), cnn.Linear(2 * 4 * 4, 3))
    before = model.state_dict()
    assert model.to("cpu") is model
    for k, v in model.state_dict().items():
        assert isinstance(v, np.ndarray) and np.array_equal(v, before[k])
    with pytest.raises(ValueError, match="device must be 'cpu' or 'cuda'"):
        model.to("gpu")


def test_to_cuda_without_a_gpu_is_a_clear_error():
    if ck.cuda_available():
        pytest.skip("a CUDA device is available")
    with pytest.raises(RuntimeError, match="no CUDA backend is available"):
        cnn.Linear(3, 2).to("cuda")


@pytest.mark.gpu
def test_a_model_on_cuda_trains_as_on_the_cpu():
    if not ck.cuda_available():
        pytest.skip("needs a CUDA device")
    import cupy
    cnn.manual_seed(0)
    cpu = cnn.Sequential(cnn.Conv2d(1, 4, 3), cnn.ReLU(), cnn.MaxPool2d(2), cnn.Flatten(), cnn.Linear(4 * 3 * 3, 5))
    gpu = cnn.Sequential(cnn.Conv2d(1, 4, 3), cnn.ReLU(), cnn.MaxPool2d(2), cnn.Flatten(), cnn.Linear(4 * 3 * 3, 5))
    gpu.load_state_dict(cpu.state_dict())
    gpu.to("cuda")
    x = np.random.default_rng(0).standard_normal((6, 1, 8, 8)).astype(np.float32)
    labels = np.arange(6) % 5
    for model, xs in ((cpu, x), (gpu, cupy.asarray(x))):
        loss_fn = cnn.CrossEntropyLoss()
        loss_fn(model(xs), labels)
        model.backward(loss_fn.backward())
    for (name, p), (_, q) in zip(cpu.named_parameters(), gpu.named_parameters()):
        np.testing.assert_allclose(cupy.asnumpy(q.grad), p.grad, rtol=1e-4, atol=1e-5, err_msg=name)
