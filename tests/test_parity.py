"""Numerical parity of the TF port with the authors' PyTorch model (torch only as an oracle)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch is the parity oracle: pip install -e '.[test]'")

from conftest import make_reference  # noqa: E402

from tfprobe import GainModulatedRNN  # noqa: E402
from tfprobe.models import STAGES  # noqa: E402

TOLERANCE = 1e-4
FLAG_GRID = list(itertools.product((0, 1), repeat=4))
# The authors' fb_acts source order for each stage (index j in fb_acts[stage][kind][j]).
TORCH_SOURCES = {
    "input": ("from_conv1", "from_conv2", "from_fc1"),
    "conv1": ("lateral", "from_conv2", "from_fc1"),
    "conv2": ("lateral", "from_fc1"),
    "fc1": ("lateral",),
}
KIND_INDEX = {"bias": 0, "gain": 1}


def channels_last(tensor: torch.Tensor) -> np.ndarray:
    array = tensor.detach().numpy()
    return array.transpose(0, 2, 3, 1) if array.ndim == 4 else array


def run_reference(timesteps: int, flags: tuple[int, ...], images: np.ndarray):
    reference = make_reference(timesteps, flags)
    with torch.no_grad():
        return reference(torch.from_numpy(images.transpose(0, 3, 1, 2).copy()))


def max_differences(out, actvs, fb_acts, fb_acts_comb, flags, timesteps) -> dict[str, float]:
    """Largest absolute difference per compared quantity; fails on any missing or extra flow."""
    bias, gain, lateral, topdown = map(bool, flags)
    diffs = {"log_probs": np.abs(out.log_probs - actvs[5].numpy()).max()}
    diffs["readout"] = np.abs(out.readout - actvs[4].numpy()).max()
    for index, stage in enumerate(STAGES):
        assert len(out.activations[stage]) == timesteps
        for t in range(timesteps):
            diffs[f"{stage}@t{t}"] = np.abs(out.activations[stage][t] - channels_last(actvs[index][t])).max()
        for kind, on in (("bias", bias), ("gain", gain)):
            flow = out.flows[stage][kind]
            active = [s for s in TORCH_SOURCES[stage] if (lateral if s == "lateral" else topdown)]
            if not on or not active:
                assert flow is None, f"{stage}/{kind} should be absent for flags {flags}"
                continue
            assert sorted(flow.keys()) == sorted(active)
            assert len(flow) == timesteps - 1
            k = KIND_INDEX[kind]
            for t in range(timesteps - 1):
                expected = channels_last(fb_acts_comb[index][k][t])
                diffs[f"flow {stage}/{kind}@t{t}"] = np.abs(flow[t] - expected).max()
                for j, source in enumerate(TORCH_SOURCES[stage]):
                    if source in active:
                        expected = channels_last(fb_acts[index][k][j][t])
                        diffs[f"flow {stage}/{kind}/{source}@t{t}"] = np.abs(flow[source][t] - expected).max()
    return {name: float(value) for name, value in diffs.items()}


@pytest.mark.heavy
@pytest.mark.parametrize("timesteps", [1, 2, 4])
@pytest.mark.parametrize("flags", FLAG_GRID, ids=lambda f: "bglt_" + "".join(map(str, f)))
def test_every_activation_and_flow_matches_pytorch(flags, timesteps, reference_checkpoints, images):
    actvs, fb_acts, fb_acts_comb = run_reference(timesteps, flags, images)
    code = "bglt_" + "".join(map(str, flags))
    model = GainModulatedRNN.from_code(code, timesteps=timesteps).load_torch_checkpoint(
        reference_checkpoints[timesteps]
    )
    out = model(images, return_activations=True).numpy()
    diffs = max_differences(out, actvs, fb_acts, fb_acts_comb, flags, timesteps)
    worst = max(diffs, key=diffs.get)
    assert diffs[worst] <= TOLERANCE, f"{worst} differs by {diffs[worst]:.3g}"
    # The plain call (log-probabilities only) is the same function.
    np.testing.assert_allclose(model(images).numpy(), out.log_probs, atol=TOLERANCE, rtol=0)


@pytest.mark.parametrize("jit_compile", [True, False])
def test_outputs_without_xla_equal_pytorch(jit_compile, reference_checkpoints, images):
    flags = (1, 1, 1, 1)
    actvs, fb_acts, fb_acts_comb = run_reference(4, flags, images)
    model = GainModulatedRNN.from_code("bglt_1111", timesteps=4, jit_compile=jit_compile)
    model.load_torch_checkpoint(reference_checkpoints[4])
    diffs = max_differences(model(images, return_activations=True).numpy(), actvs, fb_acts, fb_acts_comb, flags, 4)
    assert max(diffs.values()) <= TOLERANCE


def test_input_gradient_of_the_loss_matches_pytorch(reference_checkpoints, images):
    import tensorflow as tf

    from tfprobe.models import NegativeLogLikelihood

    # Gradients are compared away from regions of one constant non-zero value:
    # there, conv outputs tie up to rounding and each framework's max pooling
    # may route the gradient to a different (equally valid) tied element.
    images = images.copy()
    images[1, :10] = 0.5 + 0.5 * images[2, :10]
    labels = np.array([3, 12, 19])
    reference = make_reference(4, (0, 1, 1, 1))
    x = torch.from_numpy(images.transpose(0, 3, 1, 2).copy()).requires_grad_(True)
    actvs, _, _ = reference(x)
    torch.nn.functional.nll_loss(actvs[5], torch.from_numpy(labels)).backward()
    expected = x.grad.numpy().transpose(0, 2, 3, 1)

    model = GainModulatedRNN.from_code("bglt_0111", timesteps=4).load_torch_checkpoint(reference_checkpoints[4])
    inputs = tf.constant(images)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        loss = tf.reduce_mean(NegativeLogLikelihood()(labels, model(inputs)))
    gradient = tape.gradient(loss, inputs).numpy()
    scale = np.abs(expected).max()
    assert scale > 0
    np.testing.assert_allclose(gradient, expected, atol=1e-3 * scale, rtol=0)
    assert np.abs(gradient - expected).max() <= TOLERANCE
