"""Op families; importing this package registers every op in the global registry."""

from . import (  # noqa: F401
    activation,
    conv,
    conv_more,
    einsum,
    elementwise,
    index,
    linalg,
    linear,
    loss,
    loss_more,
    pool,
    pool_avg,
    pool_grad,
    pool_more,
    reduce,
    reduce_more,
    resize,
    scan,
    shape,
    unary,
)
