"""Random numbers of cnnkernels.nn: one generator behind every initialisation and dropout mask, seeded
by manual_seed, and torch.nn's default initialisation of Conv2d and Linear."""

import math

import numpy as np

_generator = np.random.default_rng()


def manual_seed(seed):
    """Reseeds the generator that layer initialisation and Dropout draw from (as torch.manual_seed):
    the same seed and the same sequence of constructions and forwards give the same numbers."""
    global _generator
    _generator = np.random.default_rng(seed)


def generator():
    """The numpy.random.Generator that initialisation and Dropout use."""
    return _generator


def default_uniform(shape, fan_in, dtype):
    """U(-1/sqrt(fan_in), 1/sqrt(fan_in)) as `dtype` (drawn in float64): torch.nn.Conv2d's and Linear's
    default for both weight (kaiming_uniform_ with a=sqrt(5) gives exactly this bound) and bias
    (0 when fan_in is 0)."""
    bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    return _generator.uniform(-bound, bound, size=shape).astype(dtype)
