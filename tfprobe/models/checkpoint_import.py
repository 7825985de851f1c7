"""Load the authors' PyTorch checkpoints into :class:`GainModulatedRNN`.

The authors' model (``RNNet_all_fbr``) always creates every projection, for
both modulation kinds, whatever its flags; a checkpoint therefore has the same
44 keys for every flag combination, and the flags it was trained with are
known only from its file name (``rnn_bglt_0111_t_4_num_1.pth``).  Every key
and shape is checked; the weights of switched-off projections are checked and
then left out, since the TF model does not build them.

Layouts are converted so that the TF model computes the same function:
convolutions OIHW -> HWIO, transposed convolutions (in, out, kH, kW) ->
(kH, kW, out, in), linear (out, in) -> (in, out), and the channels-first
flatten before fc1 and the channels-first reshapes after the fc-to-map
projections are folded into permutations of the weight matrices.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tfprobe.errors import CheckpointError, CheckpointMismatchError
from tfprobe.models.architecture import (
    KERNEL_SIZE,
    KINDS,
    N_CLASSES,
    PROJECTIONS,
    Projection,
    RecurrenceFlags,
    modulated_shapes,
    parse_checkpoint_filename,
)
from tfprobe.models.provenance import record_provenance, weights_from_file
from tfprobe.models.pth_reader import read_torch_state_dict

if TYPE_CHECKING:
    from tfprobe.models.gain_rnn import GainModulatedRNN

__all__ = ["expected_torch_shapes", "infer_torch_config", "load_torch_checkpoint", "load_torch_state_dict"]


def _channels(n_feats: int) -> dict[str, int]:
    return {stage: shape[-1] for stage, shape in modulated_shapes(n_feats).items()}


def _projection_shape(projection: Projection, n_feats: int) -> tuple[int, ...]:
    channels = _channels(n_feats)
    source, target = channels[projection.source], channels[projection.target]
    k = projection.kernel_size
    if projection.operation == "conv":
        return (target, source, k, k)
    if projection.operation == "conv_transpose":
        return (source, target, k, k)
    return (int(np.prod(modulated_shapes(n_feats)[projection.target])), source)


def expected_torch_shapes(n_feats: int, timesteps: int) -> dict[str, tuple[int, ...]]:
    """Keys and shapes of the authors' state_dict for ``n_feats`` and ``timesteps``."""
    nf = n_feats
    shapes: dict[str, tuple[int, ...]] = {
        "conv1.weight": (nf, 1, KERNEL_SIZE, KERNEL_SIZE),
        "conv1.bias": (nf,),
        "conv2.weight": (2 * nf, nf, KERNEL_SIZE, KERNEL_SIZE),
        "conv2.bias": (2 * nf,),
        "fc1.weight": (16 * nf, 2 * nf * 9 * 9),
        "fc1.bias": (16 * nf,),
        "fc2.weight": (N_CLASSES, 16 * nf * timesteps),
        "fc2.bias": (N_CLASSES,),
    }
    for projection in PROJECTIONS:
        weight = _projection_shape(projection, nf)
        out_channels = weight[1] if projection.operation == "conv_transpose" else weight[0]
        for kind in KINDS:
            name = projection.torch_name(kind)
            shapes[f"{name}.weight"] = weight
            shapes[f"{name}.bias"] = (out_channels,)
    return shapes


def infer_torch_config(state_dict: dict[str, np.ndarray]) -> tuple[int, int]:
    """``(n_feats, timesteps)`` of an authors' state_dict, read from its shapes."""
    try:
        n_feats = int(state_dict["conv1.weight"].shape[0])
        readout_width = int(state_dict["fc2.weight"].shape[1])
    except (KeyError, IndexError) as exc:
        raise CheckpointMismatchError(
            "not a checkpoint of the recurrent network: it lacks conv1.weight/fc2.weight "
            f"(keys: {sorted(state_dict)[:8]}...)"
        ) from exc
    if n_feats < 1 or readout_width % (16 * n_feats):
        raise CheckpointMismatchError(
            f"fc2.weight has {readout_width} inputs, not a multiple of 16 * n_feats = {16 * n_feats}"
        )
    return n_feats, readout_width // (16 * n_feats)


def _conv_kernel(weight: np.ndarray) -> np.ndarray:
    # OIHW (conv) and (in, out, kH, kW) (transposed conv) both go to (kH, kW, *, *).
    return weight.transpose(2, 3, 1, 0)


def _dense_kernel(
    weight: np.ndarray, inputs_chw: tuple[int, ...] | None = None, outputs_chw: tuple[int, ...] | None = None
) -> np.ndarray:
    """(out, in) -> (in, out), re-ordering channels-first inputs/outputs to channels-last."""
    n_out, n_in = weight.shape
    if inputs_chw is not None:
        weight = weight.reshape(n_out, *inputs_chw).transpose(0, 2, 3, 1).reshape(n_out, n_in)
    if outputs_chw is not None:
        weight = weight.reshape(*outputs_chw, n_in).transpose(1, 2, 0, 3).reshape(n_out, n_in)
    return weight.T


def _dense_bias(bias: np.ndarray, outputs_chw: tuple[int, ...] | None = None) -> np.ndarray:
    if outputs_chw is None:
        return bias
    return bias.reshape(outputs_chw).transpose(1, 2, 0).reshape(-1)


def _chw(shape: tuple[int, ...]) -> tuple[int, ...] | None:
    return (shape[2], shape[0], shape[1]) if len(shape) == 3 else None


def _describe(model: GainModulatedRNN) -> str:
    return f"GainModulatedRNN(n_feats={model.n_feats}, timesteps={model.timesteps}, {model.flags.code})"


def load_torch_state_dict(
    model: GainModulatedRNN, state_dict: dict[str, np.ndarray], source: str = "state_dict"
) -> None:
    """Copy an authors' state_dict (name -> numpy array) into ``model``.

    Raises
    ------
    CheckpointMismatchError
        On a missing or unexpected key, or a shape that differs from what the
        model built with its arguments expects (the message names the key and
        both shapes).
    """
    expected = expected_torch_shapes(model.n_feats, model.timesteps)
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing keys {missing[:6]}{' ...' if len(missing) > 6 else ''}")
        if unexpected:
            parts.append(f"unexpected keys {unexpected[:6]}{' ...' if len(unexpected) > 6 else ''}")
        raise CheckpointMismatchError(
            f"{source}: does not fit {_describe(model)}: {'; '.join(parts)} "
            "(expected the authors' RNNet_all_fbr state_dict)"
        )
    for key, shape in expected.items():
        found = tuple(state_dict[key].shape)
        if found != shape:
            hint = ""
            try:
                n_feats, timesteps = infer_torch_config(state_dict)
                hint = f"; the checkpoint looks like n_feats={n_feats}, timesteps={timesteps}"
            except CheckpointError:
                pass
            raise CheckpointMismatchError(
                f"{source}: key {key!r} has shape {found}, but {_describe(model)} expects {shape}{hint}"
            )
        if not np.issubdtype(state_dict[key].dtype, np.floating):
            raise CheckpointMismatchError(
                f"{source}: key {key!r} has dtype {state_dict[key].dtype}, expected floating point"
            )

    model.build((None, 100, 100, 1))
    dtype = model.variable_dtype

    def tensor(key: str) -> np.ndarray:
        return np.asarray(state_dict[key], dtype=dtype)

    nf = model.n_feats
    model.conv1.set_weights([_conv_kernel(tensor("conv1.weight")), tensor("conv1.bias")])
    model.conv2.set_weights([_conv_kernel(tensor("conv2.weight")), tensor("conv2.bias")])
    model.fc1.set_weights([_dense_kernel(tensor("fc1.weight"), inputs_chw=(2 * nf, 9, 9)), tensor("fc1.bias")])
    model.fc2.set_weights([_dense_kernel(tensor("fc2.weight")), tensor("fc2.bias")])
    shapes = modulated_shapes(nf)
    for projection in model.recurrent_projections:
        for kind in model.flags.kinds:
            name = projection.torch_name(kind)
            weight, bias = tensor(f"{name}.weight"), tensor(f"{name}.bias")
            if projection.operation == "dense":
                out_chw = _chw(shapes[projection.target])
                weights = [_dense_kernel(weight, outputs_chw=out_chw), _dense_bias(bias, out_chw)]
            else:
                weights = [_conv_kernel(weight), bias]
            model.projection_layer(projection, kind).set_weights(weights)


def _check_filename(model: GainModulatedRNN, path: Path) -> None:
    parsed = parse_checkpoint_filename(path.name)
    if parsed is None:
        return
    flags, timesteps = parsed
    if flags != model.flags or timesteps != model.timesteps:
        raise CheckpointMismatchError(
            f"{path.name}: its name says it was trained as {flags.code} with {timesteps} time steps, but the model "
            f"is {_describe(model)}; build GainModulatedRNN.from_code({flags.code!r}, timesteps={timesteps}) "
            "or pass check_filename=False if the file was renamed"
        )


def load_torch_checkpoint(model: GainModulatedRNN, path: str | os.PathLike[str], check_filename: bool = True) -> None:
    """Read an authors' ``.pth`` file (without torch, executing nothing) into ``model``.

    Parameters
    ----------
    model : GainModulatedRNN
        Built with the arguments the checkpoint was trained with.
    path : path-like
        The ``.pth`` file (zip or legacy format).
    check_filename : bool
        If the file name follows the authors' ``rnn_bglt_<flags>_t_<T>_num_<N>.pth``
        pattern, refuse a checkpoint whose flags or time steps differ from the
        model's (the flags cannot be read from the tensors themselves).
    """
    path = Path(path)
    state_dict = read_torch_state_dict(path)
    if check_filename:
        _check_filename(model, path)
    load_torch_state_dict(model, state_dict, source=str(path))
    record_provenance(model, weights=weights_from_file("checkpoint", path))


def build_from_torch_checkpoint(
    cls: type[GainModulatedRNN], path: str | os.PathLike[str], code: str | None = None, **kwargs: Any
) -> GainModulatedRNN:
    """Build a model of the checkpoint's size and flags and load it (see
    :meth:`GainModulatedRNN.from_torch_checkpoint`)."""
    path = Path(path)
    state_dict = read_torch_state_dict(path)
    n_feats, timesteps = infer_torch_config(state_dict)
    if code is not None:
        flags = RecurrenceFlags.from_code(code)
    else:
        parsed = parse_checkpoint_filename(path.name)
        if parsed is None:
            raise CheckpointError(
                f"{path.name}: cannot tell which recurrence flags the checkpoint was trained with: its name does not "
                "follow the authors' rnn_bglt_<flags>_t_<T>_num_<N>.pth pattern; pass code='bglt_0111' (for example)"
            )
        flags = parsed[0]
    model = cls.from_code(flags.code, timesteps=timesteps, n_feats=n_feats, **kwargs)
    load_torch_state_dict(model, state_dict, source=str(path))
    record_provenance(model, spec=str(path), weights=weights_from_file("checkpoint", path))
    return model
