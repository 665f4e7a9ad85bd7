"""Op families; importing this package registers every op in the global registry."""

from . import conv, elementwise, linalg, linear, loss, pool, pool_grad, reduce, shape  # noqa: F401
