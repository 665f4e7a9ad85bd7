"""Op families; importing this package registers every op in the global registry."""

from . import conv, conv_more, elementwise, linalg, loss, pool, pool_grad, pool_more, reduce, shape  # noqa: F401
