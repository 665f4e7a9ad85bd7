"""Op families; importing this package registers every op in the global registry."""

from . import activation, conv, elementwise, linalg, loss, pool, pool_grad, reduce, shape, unary  # noqa: F401
