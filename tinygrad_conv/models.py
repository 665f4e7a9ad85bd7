"""Ready-made models for (N, 1, 28, 28) float32 images: the seed's CNN, LeNet-5 and an MLP.

Layers are plain named attributes (``conv1``, ``pool1``, ``fc`` ...), not Sequential indices, so
graphs, parameter names (``conv1.weight``) and forward hooks read well. Every builder takes
``rng`` (Generator, seed or None): the same seed gives the same weights.

    >>> model = get_model("seed_cnn", rng=0)
    >>> logits = model(x)            # x: (N, 1, 28, 28) -> (N, 10)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from . import nn
from .nn.init import RngLike, as_rng
from .tensor import Tensor

__all__ = ["SeedCNN", "LeNet5", "MLP", "seed_cnn", "lenet5", "mlp", "MODELS", "get_model"]


class SeedCNN(nn.Module):
    """The seed notebook's network::

        conv1  Conv2d(in, 12, 5, padding='same') -> relu1 -> pool1 MaxPool2d(2)
        conv2  Conv2d(12, 16, 5, padding='same') -> relu2 -> pool2 MaxPool2d(2)
        flatten -> fc Linear(16 * 7 * 7, num_classes)

    x: (N, in_channels, input_size, input_size) -> logits (N, num_classes); input_size must be a
    multiple of 4 (28 for MNIST).
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, input_size: int = 28,
                 rng: RngLike = None) -> None:
        super().__init__()
        if input_size % 4:
            raise ValueError(f"seed_cnn: input_size must be a multiple of 4, got {input_size}")
        g = as_rng(rng)
        self.conv1 = nn.Conv2d(in_channels, 12, 5, padding="same", rng=g)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(12, 16, 5, padding="same", rng=g)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(16 * (input_size // 4) ** 2, num_classes, rng=g)

    def forward(self, x: Tensor) -> Tensor:
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.pool2(self.relu2(self.conv2(x)))
        return self.fc(self.flatten(x))


class LeNet5(nn.Module):
    """LeNet-5 (LeCun et al. 1998) for 28x28 inputs, with modern defaults::

        conv1 Conv2d(in, 6, 5, padding=2) -> act1 -> pool1 (2x2)      28x28 -> 14x14
        conv2 Conv2d(6, 16, 5)            -> act2 -> pool2 (2x2)      10x10 -> 5x5
        flatten -> fc1 Linear(400, 120) -> act3 -> fc2 Linear(120, 84) -> act4 -> fc3 Linear(84, classes)

    activation: 'relu' (default) or 'tanh' (the 1998 paper); pool: 'max' (default) or 'avg'
    (the paper's subsampling, without its trainable scale). x: (N, in_channels, 28, 28).
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, activation: str = "relu",
                 pool: str = "max", rng: RngLike = None) -> None:
        super().__init__()
        acts = {"relu": nn.ReLU, "tanh": nn.Tanh}
        pools = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}
        if activation not in acts:
            raise ValueError(f"lenet5: activation must be one of {sorted(acts)}, got {activation!r}")
        if pool not in pools:
            raise ValueError(f"lenet5: pool must be one of {sorted(pools)}, got {pool!r}")
        g, Act, Pool = as_rng(rng), acts[activation], pools[pool]
        self.conv1 = nn.Conv2d(in_channels, 6, 5, padding=2, rng=g)
        self.act1 = Act()
        self.pool1 = Pool(2)
        self.conv2 = nn.Conv2d(6, 16, 5, rng=g)
        self.act2 = Act()
        self.pool2 = Pool(2)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(16 * 5 * 5, 120, rng=g)
        self.act3 = Act()
        self.fc2 = nn.Linear(120, 84, rng=g)
        self.act4 = Act()
        self.fc3 = nn.Linear(84, num_classes, rng=g)

    def forward(self, x: Tensor) -> Tensor:
        for m in self.children():
            x = m(x)
        return x


class MLP(nn.Module):
    """flatten -> fc1 -> relu1 -> ... -> fc<k+1> (logits).  x: (N, ...) flattened to (N, in_features)."""

    def __init__(self, num_classes: int = 10, in_features: int = 784, hidden: Sequence[int] = (256, 128),
                 rng: RngLike = None) -> None:
        super().__init__()
        g = as_rng(rng)
        self.flatten = nn.Flatten()
        sizes = [in_features, *hidden]
        for i in range(len(hidden)):
            setattr(self, f"fc{i + 1}", nn.Linear(sizes[i], sizes[i + 1], rng=g))
            setattr(self, f"relu{i + 1}", nn.ReLU())
        setattr(self, f"fc{len(hidden) + 1}", nn.Linear(sizes[-1], num_classes, rng=g))

    def forward(self, x: Tensor) -> Tensor:
        for m in self.children():
            x = m(x)
        return x


def seed_cnn(num_classes: int = 10, in_channels: int = 1, rng: RngLike = None, **kw: Any) -> SeedCNN:
    """The seed notebook's CNN (see SeedCNN); 12,978 parameters for 28x28 inputs and 10 classes."""
    return SeedCNN(num_classes, in_channels, rng=rng, **kw)


def lenet5(num_classes: int = 10, in_channels: int = 1, rng: RngLike = None, **kw: Any) -> LeNet5:
    """LeNet-5 with ReLU and max pooling by default (see LeNet5); 61,706 parameters."""
    return LeNet5(num_classes, in_channels, rng=rng, **kw)


def mlp(num_classes: int = 10, in_channels: int = 1, hidden: Sequence[int] = (256, 128),
        input_size: int = 28, rng: RngLike = None) -> MLP:
    """An MLP on flattened images: in_channels * input_size**2 -> hidden... -> num_classes (ReLU)."""
    return MLP(num_classes, in_channels * input_size * input_size, hidden, rng=rng)


MODELS: dict[str, Callable[..., nn.Module]] = {"seed_cnn": seed_cnn, "lenet5": lenet5, "mlp": mlp}


def get_model(name: str, **kw: Any) -> nn.Module:
    """Build a model by name ('seed_cnn', 'lenet5', 'mlp'; '-' works for '_')."""
    key = name.replace("-", "_").lower()
    if key not in MODELS:
        raise ValueError(f"get_model: unknown model {name!r}; available: {', '.join(sorted(MODELS))}")
    return MODELS[key](**kw)
