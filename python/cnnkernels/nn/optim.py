"""SGD: stochastic gradient descent with momentum, dampening, weight decay and Nesterov momentum, with
exactly torch.optim.SGD's update rule."""

from .module import Parameter


class SGD:
    """For each parameter p with a gradient g (parameters whose .grad is None are skipped), as PyTorch:

        g = g + weight_decay * p
        buf = g                                   (the first step)
        buf = momentum * buf + (1 - dampening) * g (later steps)     } when momentum != 0
        g = g + momentum * buf if nesterov else buf                   }
        p = p - lr * g                            (in place: p.data keeps its array)
    """

    def __init__(self, params, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
        self.params = list(params)
        if not all(isinstance(p, Parameter) for p in self.params):
            raise TypeError("SGD: params must be Parameters (e.g. model.parameters())")
        if not self.params:
            raise ValueError("SGD: got an empty parameter list")
        for name, v in (("lr", lr), ("momentum", momentum), ("weight_decay", weight_decay)):
            if not v >= 0:
                raise ValueError(f"SGD: {name} must be non-negative, got {v}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum and zero dampening")
        self.lr, self.momentum, self.dampening = float(lr), float(momentum), float(dampening)
        self.weight_decay, self.nesterov = float(weight_decay), bool(nesterov)
        self.state = {}   # id(p) -> momentum buffer

    def step(self):
        for p in self.params:
            if p.grad is None:
                continue
            g = p.grad
            if self.weight_decay:
                g = g + self.weight_decay * p.data
            if self.momentum:
                buf = self.state.get(id(p))
                if buf is None:
                    buf = self.state[id(p)] = g.copy()
                else:
                    buf *= self.momentum
                    buf += (1 - self.dampening) * g
                g = g + self.momentum * buf if self.nesterov else buf
            p.data -= self.lr * g

    def zero_grad(self, set_to_none=True):
        """Clears the parameters' .grad: None (the default, as PyTorch's) or zeros."""
        for p in self.params:
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad[...] = 0

    def __repr__(self):
        return (f"SGD(lr={self.lr}, momentum={self.momentum}, dampening={self.dampening}, "
                f"weight_decay={self.weight_decay}, nesterov={self.nesterov})")
