"""cnnkernels.nn: layers, a loss and an optimiser on the cnnkernels kernels, after torch.nn.

    import cnnkernels.nn as cnn
    cnn.manual_seed(0)
    model = cnn.Sequential(cnn.Conv2d(1, 6, 5), cnn.ReLU(), cnn.MaxPool2d(2), cnn.Flatten(),
                           cnn.Linear(6 * 14 * 14, 10))
    loss_fn = cnn.CrossEntropyLoss()
    opt = cnn.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss = loss_fn(model(x), labels)         # x: (N, 1, 32, 32) float32; a Python float
    model.backward(loss_fn.backward())       # gradient of x; adds to each parameter's .grad
    opt.step(); opt.zero_grad()

module.py: Parameter, Module, Sequential; layers.py: the layers; loss.py: CrossEntropyLoss; optim.py: SGD;
init.py: manual_seed and the default initialisation.
"""

from .init import manual_seed
from .layers import (AvgPool2d, Conv2d, Dropout, FeatureLPPool, Flatten, Linear, LocalContrastNorm, LPPool2d,
                     MaxPool2d, ReLU, Sigmoid, Tanh)
from .loss import CrossEntropyLoss
from .module import Module, Parameter, Sequential
from .optim import SGD

__all__ = ["Parameter", "Module", "Sequential", "Conv2d", "MaxPool2d", "AvgPool2d", "LPPool2d", "FeatureLPPool",
           "LocalContrastNorm", "ReLU", "Tanh", "Sigmoid", "Linear", "Flatten", "Dropout", "CrossEntropyLoss",
           "SGD", "manual_seed"]
