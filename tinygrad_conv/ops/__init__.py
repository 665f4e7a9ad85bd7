"""Op families; importing this package registers every op in the global registry."""

from . import elementwise, linalg, reduce, shape  # noqa: F401
