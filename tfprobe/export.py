"""Export the recurrent network as a TensorFlow SavedModel.

The SavedModel runs without tfprobe (and without Python: TF Serving, the C
API, TF.js converters).  Its signatures:

``serving_default`` (alias of ``serve``)
    input ``images``: float32 ``(batch, 100, 100, 1)``; outputs, by name:

    - ``log_probs`` ``(batch, 20)``: clamped log-softmax class scores;
    - ``readout`` ``(batch, 16 * n_feats * timesteps)``: fc1 of all steps;
    - ``<stage>_t<t>``: activity of ``stage`` (``input``, ``conv1``,
      ``conv2``, ``fc1``) at time step ``t``, channels-last;
    - ``flow_<stage>_<kind>_t<t>``: the combined recurrent ``kind``
      (``bias``/``gain``) flow into ``stage`` from step ``t`` to ``t + 1``;
    - ``flow_<stage>_<kind>_<source>_t<t>``: the same per source
      (``lateral``, ``from_conv1``, ``from_conv2``, ``from_fc1``).

    Flows whose flag is off are absent, exactly as in
    :class:`~tfprobe.models.RNNOutputs` (its ``flat()`` gives the same names).

``classify``
    input ``images``; output ``log_probs`` only (no intermediate is kept, so
    it is the fast one to serve).
"""

from __future__ import annotations

import os
from pathlib import Path

import keras
import tensorflow as tf

from tfprobe.atomic import check_destination, staged
from tfprobe.errors import InvalidTypeError
from tfprobe.models.architecture import IMAGE_SIZE
from tfprobe.models.gain_rnn import GainModulatedRNN
from tfprobe.models.outputs import RNNOutputs

__all__ = ["SERVING_INPUT", "export_saved_model", "saved_model_output_names"]

#: Name of the input tensor of every exported signature.
SERVING_INPUT = "images"


def saved_model_output_names(model: GainModulatedRNN) -> list[str]:
    """The output names of the ``serving_default`` signature for ``model``, in order."""
    images = tf.zeros((1, IMAGE_SIZE, IMAGE_SIZE, 1))
    return list(model(images, return_activations=True).flat())


def export_saved_model(
    model: GainModulatedRNN,
    path: str | os.PathLike[str],
    overwrite: bool = False,
    jit_compile: bool = False,
) -> Path:
    """Write ``model`` as a SavedModel whose signatures return every intermediate.

    Parameters
    ----------
    model : GainModulatedRNN
        The network to export (its current weights are frozen into the file).
    path : path-like
        Directory to create.  It is written next to its final place and moved
        there only when complete, so an interrupted export leaves nothing.
    overwrite : bool
        Replace an existing directory at ``path`` (otherwise refuse).
    jit_compile : bool
        Mark the exported functions for XLA compilation.  Off by default, so
        that every TensorFlow runtime (TF Serving included) can run the file.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    TypeError
        If ``model`` is not a :class:`GainModulatedRNN`.
    FileExistsError
        If ``path`` exists and ``overwrite`` is false.
    """
    if not isinstance(model, GainModulatedRNN):
        raise InvalidTypeError(f"export_saved_model expects a GainModulatedRNN, got {type(model).__name__}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    check_destination(path, overwrite=overwrite, what="SavedModel folder")
    model.build((None, IMAGE_SIZE, IMAGE_SIZE, 1))

    def serve(images: tf.Tensor) -> dict[str, tf.Tensor]:
        nested = model.unroll(images, collect=True)
        return RNNOutputs.from_nested(nested, model.flags, model.timesteps).flat()

    def classify(images: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"log_probs": model.unroll(images, collect=False)}

    signature = [tf.TensorSpec((None, IMAGE_SIZE, IMAGE_SIZE, 1), tf.float32, name=SERVING_INPUT)]
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serve", tf.function(serve, jit_compile=jit_compile), input_signature=signature)
    archive.add_endpoint("classify", tf.function(classify, jit_compile=jit_compile), input_signature=signature)

    with staged(path, directory=True) as staging:
        archive.write_out(str(staging), verbose=False)
    return path
