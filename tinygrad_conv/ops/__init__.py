"""Op families; importing this package registers every op in the global registry."""

from . import (  # noqa: F401  # noqa: F401  (CNN ops and losses, issue 12)
    conv,
    conv_more,
    elementwise,
    linalg,
    loss,
    loss_more,
    pool,
    pool_grad,
    pool_more,
    reduce,
    resize,
    shape,
)
