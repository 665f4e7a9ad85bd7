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

# issue 12: math (elementwise, reductions, linear algebra), activations, shape and index functions
from .activation import *  # noqa: E402, F403
from .activation import __all__ as _act_all  # noqa: E402
from .index import *  # noqa: E402, F403
from .index import __all__ as _index_all  # noqa: E402
from .math import *  # noqa: E402, F403
from .math import __all__ as _math_all  # noqa: E402

__all__ += list(_math_all) + list(_act_all) + list(_index_all)

# issue 12 (CNN ops, losses, normalisation): later imports win, so F.pad is PyTorch-style
from .cnn_more import *  # type: ignore[assignment]  # noqa: F403, E402
from .cnn_more import __all__ as _cnn_more_all  # noqa: E402

__all__ += [n for n in _cnn_more_all if n not in __all__]
from .loss_more import *  # noqa: F403, E402
from .loss_more import __all__ as _loss_more_all  # noqa: E402

__all__ += [n for n in _loss_more_all if n not in __all__]
from .normalization import *  # noqa: F403, E402
from .normalization import __all__ as _norm_all  # noqa: E402

__all__ += [n for n in _norm_all if n not in __all__]
