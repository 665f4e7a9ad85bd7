"""Op families; importing this package registers every op in the global registry."""

from . import (  # noqa: F401
    activation,
    conv,
    einsum,
    elementwise,
    index,
    linalg,
    loss,
    pool,
    pool_grad,
    reduce,
    reduce_more,
    scan,
    shape,
    unary,
)
