"""Train LeNet-5 with cnnkernels.nn on scikit-learn's bundled digits (no download).

LeNet-5 as in the lecture notes: conv 6@5x5, 2x2 max pool, conv 16@5x5, 2x2 max pool, then fully connected
120-84-10, with tanh or ReLU (--act). --arch jarrett swaps each conv stage for Jarrett et al.'s (2009):
conv, tanh, local contrast normalization, L2 pooling (LPPool2d(2, 2)).

Data: the 1797 8x8 digit images, upsampled to 32x32 by bilinear interpolation (pixel centres aligned, as
torch's align_corners=False), scaled to [0, 1] then standardised by the training set's mean and
deviation; a fixed stratified split, 1347 train / 450 test. Training: SGD with momentum on shuffled
minibatches, each image shifted by a random offset of up to 2 pixels (--shift), the learning rate times
0.85 after each epoch (--lr-decay). --seed fixes the initialisation, the shuffling and the shifts, and so
the whole run.

    pip install ".[examples]"
    python examples/lenet5_digits.py [--act relu] [--arch jarrett] [--epochs N] [--plot curves.png]
"""

import argparse
import os
import time

# Waiting OpenMP threads sleep instead of spinning: with minibatches this small every kernel call is a
# short parallel region, and on a busy machine spinning threads slow each other down many times over.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402

import cnnkernels as ck  # noqa: E402
import cnnkernels.nn as cnn  # noqa: E402


def bilinear_matrix(n_in, n_out):
    """(n_out, n_in) matrix of 1-D bilinear interpolation with aligned pixel centres (edges clamped)."""
    src = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
    src = np.clip(src, 0, n_in - 1)
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = src - lo
    m = np.zeros((n_out, n_in))
    m[np.arange(n_out), lo] += 1 - frac
    m[np.arange(n_out), hi] += frac
    return m


def load_data(size=32, train_limit=None, test_limit=None):
    """(x_train, y_train, x_test, y_test): x (N, 1, size, size) float32, y (N,) int64."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    m = bilinear_matrix(8, size)
    images = np.einsum("ph,nhw,qw->npq", m, digits.images / 16.0, m)      # (N, size, size) in [0, 1]
    x_train, x_test, y_train, y_test = train_test_split(images, digits.target, test_size=0.25, random_state=0,
                                                        stratify=digits.target)
    x_train, y_train = x_train[:train_limit], y_train[:train_limit]
    x_test, y_test = x_test[:test_limit], y_test[:test_limit]
    mean, std = x_train.mean(), x_train.std()

    def prep(x):                                                              # (N, s, s) -> (N, 1, s, s)
        return ((x - mean) / std).astype(np.float32)[:, None]
    return prep(x_train), y_train.astype(np.int64), prep(x_test), y_test.astype(np.int64)


def build_model(arch="lenet5", act="tanh"):
    """LeNet-5 on (N, 1, 32, 32) images, 10 classes, with `act` ("tanh" or "relu") after every conv and
    hidden FC layer; arch "jarrett": Jarrett et al.'s conv stages, tanh throughout."""
    Act = {"tanh": cnn.Tanh, "relu": cnn.ReLU}["tanh" if arch == "jarrett" else act]
    if arch == "lenet5":
        stage1 = [cnn.Conv2d(1, 6, 5), Act(), cnn.MaxPool2d(2)]        # (N, 6, 28, 28) -> (N, 6, 14, 14)
        stage2 = [cnn.Conv2d(6, 16, 5), Act(), cnn.MaxPool2d(2)]       # (N, 16, 10, 10) -> (N, 16, 5, 5)
    elif arch == "jarrett":
        stage1 = [cnn.Conv2d(1, 6, 5), cnn.Tanh(), cnn.LocalContrastNorm(9, sigma=2.0), cnn.LPPool2d(2, 2)]
        stage2 = [cnn.Conv2d(6, 16, 5), cnn.Tanh(), cnn.LocalContrastNorm(5, sigma=1.0), cnn.LPPool2d(2, 2)]
    else:
        raise ValueError(f"unknown arch {arch!r}")
    return cnn.Sequential(*stage1, *stage2, cnn.Flatten(),                  # (N, 400)
                          cnn.Linear(16 * 5 * 5, 120), Act(), cnn.Linear(120, 84), Act(), cnn.Linear(84, 10))


def evaluate(model, x, y, batch_size=500):
    """Accuracy on (x, y), in eval mode (nothing cached); leaves the model in train mode."""
    model.eval()
    correct = sum(int((model(x[i:i + batch_size]).argmax(axis=1) == y[i:i + batch_size]).sum())
                  for i in range(0, len(x), batch_size))
    model.train()
    return correct / len(x)


def random_shift(x, rng, shift):
    """Each image of x (N, C, H, W) moved by its own random offset of up to `shift` pixels in each
    direction (the border pixels repeated into the gap)."""
    N, C, H, W = x.shape
    padded = np.pad(x, ((0, 0), (0, 0), (shift, shift), (shift, shift)), mode="edge")
    dy, dx = rng.integers(0, 2 * shift + 1, size=(2, N))
    rows = (dy[:, None] + np.arange(H))[:, None, :, None]                  # (N, 1, H, 1)
    cols = (dx[:, None] + np.arange(W))[:, None, None, :]                  # (N, 1, 1, W)
    return padded[np.arange(N)[:, None, None, None], np.arange(C)[None, :, None, None], rows, cols]


def train_epoch(model, loss_fn, opt, x, y, batch_size, rng, shift=0):
    """One pass over (x, y) in shuffled minibatches, each image randomly shifted by up to `shift` pixels;
    returns the mean training loss."""
    order = rng.permutation(len(x))
    total = 0.0
    for i in range(0, len(x), batch_size):
        idx = order[i:i + batch_size]
        xb = random_shift(x[idx], rng, shift) if shift else x[idx]
        loss = loss_fn(model(xb), y[idx])
        model.backward(loss_fn.backward(), input_grad=False)
        opt.step()
        opt.zero_grad()
        total += loss * len(idx)
    return total / len(x)


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend, or a SystemExit saying how to install it."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SystemExit("--plot needs matplotlib: pip install matplotlib (or pip install \".[examples]\")")
    return plt


def plot_history(history, path):
    """Loss and test accuracy per epoch, side by side, into the image file `path`."""
    plt = pyplot()
    epochs = np.arange(1, len(history["loss"]) + 1)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
    ax1.plot(epochs, history["loss"], marker="o")
    ax1.set(xlabel="epoch", ylabel="training loss", yscale="log", title="loss")
    ax2.plot(epochs, history["accuracy"], marker="o")
    ax2.set(xlabel="epoch", ylabel="test accuracy", title="test accuracy")
    for ax in (ax1, ax2):
        ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--arch", choices=["lenet5", "jarrett"], default="lenet5")
    p.add_argument("--act", choices=["tanh", "relu"], default="tanh", help="LeNet-5's activation (jarrett: tanh)")
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=None, help="learning rate (None: 0.03, jarrett 0.02)")
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--lr-decay", type=float, default=0.85, help="lr is multiplied by this after each epoch")
    p.add_argument("--shift", type=int, default=2, help="random shifts of up to N pixels (augmentation)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="kernel threads (None: the cores)")
    p.add_argument("--plot", metavar="FILE.png", help="draw loss and accuracy per epoch (needs matplotlib)")
    p.add_argument("--train-limit", type=int, default=None, help="use only the first N training images")
    p.add_argument("--test-limit", type=int, default=None, help="use only the first N test images")
    args = p.parse_args(argv)
    if args.lr is None:
        args.lr = 0.02 if args.arch == "jarrett" else 0.03
    if args.plot:
        pyplot()                       # a missing matplotlib fails now, not after training
    if args.threads is not None:
        ck.set_num_threads(args.threads)

    x_train, y_train, x_test, y_test = load_data(train_limit=args.train_limit, test_limit=args.test_limit)
    cnn.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    model = build_model(args.arch, args.act)
    loss_fn = cnn.CrossEntropyLoss()
    opt = cnn.SGD(model.parameters(), lr=args.lr, momentum=args.momentum, weight_decay=args.weight_decay)
    name = "LeNet-5" if args.arch == "lenet5" else "Jarrett"
    act = args.act if args.arch == "lenet5" else "tanh"
    print(f"{name} ({act}) on digits: {len(x_train)} train / {len(x_test)} test images, 32x32; "
          f"batch {args.batch_size}, lr {args.lr}, momentum {args.momentum}, {ck.get_num_threads()} threads")

    history = {"loss": [], "accuracy": []}
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        loss = train_epoch(model, loss_fn, opt, x_train, y_train, args.batch_size, rng, args.shift)
        acc = evaluate(model, x_test, y_test)
        opt.lr *= args.lr_decay
        history["loss"].append(loss)
        history["accuracy"].append(acc)
        print(f"epoch {epoch:2d}  loss {loss:.4f}  {time.perf_counter() - t0:.1f} s  test accuracy: {acc:.4f}",
              flush=True)
    print(f"total {time.perf_counter() - start:.1f} s, final test accuracy {history['accuracy'][-1]:.4f}")
    if args.plot:
        plot_history(history, args.plot)
        print(f"wrote {args.plot}")
    return history


if __name__ == "__main__":
    main()
