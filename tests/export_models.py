"""Models for the ONNX export tests: one with BatchNorm and Dropout, one that records every exportable op."""

from __future__ import annotations

import numpy as np

import tinygrad_conv.functional as F
from tinygrad_conv import nn
from tinygrad_conv.autograd import get_op
from tinygrad_conv.tensor import Tensor, apply


class BNNet(nn.Module):
    """conv -> BatchNorm2d -> relu -> dropout -> pool -> flatten -> linear -> BatchNorm1d -> linear."""

    def __init__(self, rng: int = 0) -> None:
        super().__init__()
        g = np.random.default_rng(rng)
        self.conv = nn.Conv2d(1, 4, 3, padding=1, rng=g)
        self.bn = nn.BatchNorm2d(4)
        self.relu = nn.ReLU()
        self.drop = nn.Dropout(0.5, rng=g)
        self.pool = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(4 * 4 * 4, 8, rng=g)
        self.bn1 = nn.BatchNorm1d(8, affine=False)
        self.fc2 = nn.Linear(8, 3, rng=g)
        for bn in (self.bn, self.bn1):  # running stats far from the defaults, so a wrong mapping shows
            C = bn.num_features
            bn.running_mean[...] = g.normal(size=C)
            bn.running_var[...] = g.uniform(0.5, 2.0, size=C)
        self.bn.weight.data[...] = g.uniform(0.5, 1.5, size=4)
        self.bn.bias.data[...] = g.normal(size=4)

    def forward(self, x: Tensor) -> Tensor:
        x = self.pool(self.drop(self.relu(self.bn(self.conv(x)))))
        return self.fc2(self.bn1(self.fc1(self.flatten(x))))


class EveryOp(nn.Module):
    """x: (N, 2, 8, 8) -> (N, 5) logits and (N, 3, 4, 4) features; records every exportable op."""

    def __init__(self, rng: int = 0) -> None:
        super().__init__()
        g = np.random.default_rng(rng)
        self.conv = nn.Conv2d(2, 4, 3, stride=1, padding="same", dilation=1, groups=2, rng=g)
        self.conv_s = nn.Conv2d(4, 3, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2), rng=g)
        self.mask = np.asarray(g.random((4, 8, 8)) > 0.5)  # a constant: fine to freeze
        self.w = nn.Parameter(g.normal(size=(12, 5)).astype(np.float32))
        self.fc = nn.Linear(5, 5, rng=g)

    def forward(self, x: Tensor) -> Tensor:
        h = F.relu(self.conv(x))                                    # conv2d (groups, same), relu
        h = F.where(self.mask, h, -h)                               # where with a constant mask
        h = F.max_pool2d(h, 3, stride=1, padding=1)                 # max_pool2d with padding
        h = F.avg_pool2d(F.pad(h, ((0, 0), (0, 0), (1, 0), (0, 1))), 2, stride=1)   # pad, avg_pool2d
        h = self.conv_s(h)                                          # conv2d (stride, padding, dilation)
        a = F.tanh(h) * F.sigmoid(h) - F.abs(h) / (1.0 + F.exp(-F.clip(h, -3.0, 3.0)))
        a = F.maximum(a, F.minimum(h, 0.5)) + F.sqrt(F.log(1.5 + h * h)) ** 1.5
        a = F.cast(F.cast(a, np.float64), np.float32)
        feats = a[:, :3, ::-1, 1:5]                                 # getitem: slices, negative step
        b = F.transpose(a, (0, 2, 3, 1))                            # (N, 4, 6, 3)
        c = F.concatenate([b[:, 0], b[:, -1, ...], b[:, 1, None][:, 0]], axis=2)  # int, ..., None
        s = F.sum(c, axis=1) + F.mean(c, axis=(1,), keepdims=False) - F.max(c, axis=1)  # (N, 9)
        s = s * apply(get_op("min"), c, axis=1, keepdims=False)     # ops with no functional wrapper
        s = F.reshape(F.concatenate([s, s[:, :3]], axis=1), (-1, 12))
        s = s + apply(get_op("broadcast_to"), s[:, 1:2], shape=s.shape)
        t = F.tanh(s) * 0.9                                         # in (-0.9, 0.9): every domain fits
        u = t
        for name in ("sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "erf", "sign", "floor",
                     "ceil", "round", "square", "expm1", "exp2", "log1p"):
            u = u + apply(get_op(name), t)
        for name in ("reciprocal", "rsqrt", "log2", "log10"):
            u = u + apply(get_op(name), t + 1.5)
        s = s + 0.1 * u
        logits = self.fc(F.matmul(s, self.w))                       # matmul, then the fused linear op
        out = F.log_softmax(logits, axis=1) + F.softmax(logits, axis=-1)
        return out, feats
