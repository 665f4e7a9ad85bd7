"""Op families; importing this package registers every op in the global registry."""

from . import conv, elementwise, linalg, loss, pool, pool_grad, reduce, shape  # noqa: F401
from . import conv_more, loss_more, pool_more, resize  # noqa: F401  (CNN ops and losses, issue 12)
