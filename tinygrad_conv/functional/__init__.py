"""The public functional API: PyTorch-style names, NumPy-style ``axis=``.

Every function accepts Tensors, ndarrays or Python numbers and returns a Tensor. Python numbers
take the dtype of the tensor they meet, so float32 stays float32.

``core`` holds arithmetic, elementwise, reduction and shape functions and ``linear``;
``cnn`` the CNN primitives (conv2d, pools, softmax and losses, dropout).
"""

from .cnn import *  # noqa: F403
from .cnn import __all__ as _cnn_all
from .core import *  # noqa: F403
from .core import __all__ as _core_all

__all__ = list(_core_all) + list(_cnn_all)

# issue 12 (CNN ops, losses, normalisation): later imports win, so F.pad is PyTorch-style
from .cnn_more import *  # type: ignore[assignment]  # noqa: F403, E402
from .cnn_more import __all__ as _cnn_more_all  # noqa: E402

__all__ += [n for n in _cnn_more_all if n not in __all__]
from .loss_more import *  # noqa: F403, E402
from .loss_more import __all__ as _loss_more_all  # noqa: E402

__all__ += [n for n in _loss_more_all if n not in __all__]
from .norm import *  # noqa: F403, E402
from .norm import __all__ as _norm_all  # noqa: E402

__all__ += [n for n in _norm_all if n not in __all__]
