"""CrossEntropyLoss: softmax cross-entropy from logits, as torch.nn.CrossEntropyLoss with class-index
targets."""

import numpy as np

from .module import Module, array_module, check_input


class CrossEntropyLoss(Module):
    """loss = reduction over the batch of (logsumexp(logits[n]) - logits[n, labels[n]]).

    logits: (N, classes) float32/float64; labels: (N,) integers in [0, classes). reduction: "mean" (the
    default) or "sum". Calling it returns the loss as a Python float and caches the softmax; backward()
    then returns d loss / d logits, (N, classes) in the logits' dtype (times grad, default 1).
    """

    def __init__(self, reduction="mean"):
        super().__init__()
        if reduction not in ("mean", "sum"):
            raise ValueError(f"CrossEntropyLoss: reduction must be 'mean' or 'sum', got {reduction!r}")
        self.reduction = reduction

    def forward(self, logits, labels):
        check_input(logits, "CrossEntropyLoss")
        if logits.ndim != 2:
            raise ValueError(f"CrossEntropyLoss: logits must be (N, classes), got shape {logits.shape}")
        xp = array_module(logits)
        labels = xp.asarray(labels)
        if labels.dtype.kind not in "iu":
            raise TypeError(f"CrossEntropyLoss: labels must be integers, got dtype {labels.dtype}")
        N, classes = logits.shape
        if labels.shape != (N,):
            raise ValueError(f"CrossEntropyLoss: labels must have shape ({N},), got {labels.shape}")
        if N and (labels.min() < 0 or labels.max() >= classes):
            raise ValueError(f"CrossEntropyLoss: labels must be in [0, {classes}), got values in "
                             f"[{labels.min()}, {labels.max()}]")
        z = logits - logits.max(axis=1, keepdims=True)          # (N, classes), max 0: exp cannot overflow
        e = np.exp(z)
        s = e.sum(axis=1, keepdims=True)
        losses = np.log(s[:, 0]) - z[xp.arange(N), labels]       # (N,)
        # As PyTorch: the mean of an empty batch is NaN.
        loss = losses.sum() if self.reduction == "sum" else (losses.mean() if N else np.nan)
        object.__setattr__(self, "_ctx", dict(softmax=e / s, labels=labels))
        return float(loss)

    def backward(self, grad=1.0):
        ctx = self._ctx
        if ctx is None:
            raise RuntimeError("CrossEntropyLoss.backward: no cached forward; call the loss first, once per "
                               "backward")
        object.__setattr__(self, "_ctx", None)
        g = ctx["softmax"]                                        # (N, classes), a fresh array
        N = g.shape[0]
        g[array_module(g).arange(N), ctx["labels"]] -= 1
        scale = float(grad) / (N if self.reduction == "mean" and N else 1)
        g *= g.dtype.type(scale)
        return g

    def extra_repr(self):
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"
