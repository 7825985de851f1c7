"""Running the network with recurrent flows replaced, and the perturbation analysis built on it (Figure 4D)."""

from __future__ import annotations

import numpy as np
import pytest

from tfprobe import GainModulatedRNN
from tfprobe.datasets import ClutteredScenes
from tfprobe.recurrent.flow_perturbation import (
    CONDITIONS,
    FlowPerturbationResult,
    permute_differences,
    perturb_flows,
)


@pytest.fixture(scope="module")
def model() -> GainModulatedRNN:
    # Both kinds and both directions of recurrence, three steps: every code path of a replacement.
    net = GainModulatedRNN.from_code("bglt_1111", timesteps=3, jit_compile=False)
    net.build((None, 100, 100, 1))
    return net


@pytest.fixture(scope="module")
def scenes(scene_sources):
    digits, fashion = scene_sources
    return ClutteredScenes("test", seed=3, digits=digits, fashion=fashion).sample_perturbed(10)


@pytest.fixture(scope="module")
def runs(model, scenes):
    images = scenes.scenes.images[:4]
    other = scenes.variants["x"][:4]
    return images, model(images, return_activations=True), model(other, return_activations=True)


def _close(a, b, atol=1e-5) -> None:
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=0, atol=atol)


def test_no_replacement_and_own_flows_give_the_normal_run(model, runs) -> None:
    images, own, _ = runs
    _close(model.run_with_flows(images, {}), own.log_probs)
    same = {
        ("conv1", 1): {kind: own.flows["conv1"][kind][1] for kind in ("bias", "gain")},
        ("fc1", 0): {"gain": own.flows["fc1"]["gain"][0]},
    }
    _close(model.run_with_flows(images, same), own.log_probs)
    _close(model.run_with_flows(images, same, start=own), own.log_probs)


def test_replacing_a_flow_changes_only_what_comes_after(model, runs) -> None:
    images, own, other = runs
    replacement = {("conv1", 1): {"gain": other.flows["conv1"]["gain"][1]}}
    out = model.run_with_flows(images, replacement, return_activations=True)
    for stage in ("input", "conv1", "conv2", "fc1"):
        for t in (0, 1):  # time steps before the replaced flow takes effect
            _close(out.activations[stage][t], own.activations[stage][t])
    # conv1 at step 2 is modulated by the other images' gain flow: it must differ.
    assert np.abs(np.asarray(out.activations["conv1"][2]) - np.asarray(own.activations["conv1"][2])).max() > 1e-4
    _close(out.flows["conv1"]["gain"].combined[1], other.flows["conv1"]["gain"][1])
    assert np.abs(np.asarray(out.log_probs) - np.asarray(own.log_probs)).max() > 1e-5


def test_starting_from_a_normal_run_equals_running_from_the_beginning(model, runs) -> None:
    images, own, other = runs
    replacement = {
        ("conv2", 0): {"bias": other.flows["conv2"]["bias"][0]},
        ("input", 1): {"gain": other.flows["input"]["gain"][1]},
    }
    full = model.run_with_flows(images, replacement, return_activations=True)
    resumed = model.run_with_flows(images, replacement, return_activations=True, start=own)
    _close(resumed.log_probs, full.log_probs)
    _close(model.run_with_flows(images, replacement, start=own), full.log_probs)
    for stage in ("input", "conv1", "conv2", "fc1"):
        for t in range(3):
            _close(resumed.activations[stage][t], full.activations[stage][t])
    _close(resumed.flows["conv2"]["bias"].combined[0], other.flows["conv2"]["bias"][0])
    _close(resumed.flows["fc1"]["gain"].combined[1], full.flows["fc1"]["gain"].combined[1])


def test_bad_replacements_are_refused_clearly(model, runs) -> None:
    images, own, _ = runs
    flow = own.flows["conv1"]["gain"][0]
    with pytest.raises(ValueError, match="unknown stage 'conv3'"):
        model.run_with_flows(images, {("conv3", 0): {"gain": flow}})
    with pytest.raises(ValueError, match="from 0 to 1"):
        model.run_with_flows(images, {("conv1", 2): {"gain": flow}})
    with pytest.raises(ValueError, match="unknown kind 'scale'"):
        model.run_with_flows(images, {("conv1", 0): {"scale": flow}})
    with pytest.raises(ValueError, match=r"expected shape \(4, 96, 96, 8\)"):
        model.run_with_flows(images, {("conv1", 0): {"gain": own.flows["conv2"]["gain"][0]}})
    with pytest.raises(ValueError, match="holds 2 examples but the images 4"):
        model.run_with_flows(images, {("conv1", 0): {"gain": np.asarray(flow)[:2]}})
    bad = np.asarray(flow).copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        model.run_with_flows(images, {("conv1", 0): {"gain": bad}})
    with pytest.raises(ValueError, match="floating-point"):
        model.run_with_flows(images, {("conv1", 0): {"gain": np.ones(np.shape(flow), dtype=np.int32)}})
    with pytest.raises(ValueError, match="computed from other images"):
        model.run_with_flows(images[::-1], {("conv1", 0): {"gain": flow}}, start=own)
    with pytest.raises(TypeError, match="mapping"):
        model.run_with_flows(images, [("conv1", 0)])
    gain_only = GainModulatedRNN.from_code("bglt_0111", timesteps=2, jit_compile=False)
    with pytest.raises(ValueError, match="bias flow is switched off"):
        gain_only.run_with_flows(images, {("conv1", 0): {"bias": flow}})
    lateral_only = GainModulatedRNN.from_code("bglt_0110", timesteps=2, jit_compile=False)
    with pytest.raises(ValueError, match="no recurrent flow reaches 'input'"):
        lateral_only.run_with_flows(images, {("input", 0): {"gain": images}})


def test_permuted_differences_keep_each_images_values() -> None:
    rng = np.random.default_rng(0)
    original = rng.normal(size=(5, 6, 6, 3)).astype(np.float32)
    variant = rng.normal(size=original.shape).astype(np.float32)
    control = permute_differences(original, variant, np.random.default_rng(1))
    for i in range(5):
        # Each image's difference values are the variant's, rearranged (never mixed across images).
        np.testing.assert_allclose(
            np.sort((control - original)[i].ravel()), np.sort((variant - original)[i].ravel()), atol=1e-6
        )
    assert not np.allclose(control, variant)
    again = permute_differences(original, variant, np.random.default_rng(1))
    np.testing.assert_array_equal(control, again)
    # Consumed image by image: two halves from one stream give the whole batch's permutation.
    stream = np.random.default_rng(1)
    halves = np.concatenate(
        [permute_differences(original[:2], variant[:2], stream), permute_differences(original[2:], variant[2:], stream)]
    )
    np.testing.assert_array_equal(halves, control)
    with pytest.raises(ValueError, match="one shape"):
        permute_differences(original, variant[:3], rng)


@pytest.fixture(scope="module")
def result(model, scenes) -> FlowPerturbationResult:
    return perturb_flows(
        model, [scenes, scenes], perturbations=("x", "y", "scale"), layers=("conv1", "fc1"), seed=5, batch_size=4
    )


def test_perturb_flows_result_axes_and_values(result, model, scenes) -> None:
    acc = result.accuracy
    assert acc.dims == ("perturbation", "condition", "layer", "step", "repetition")
    assert acc.shape == (3, 2, 2, 2, 2)
    assert acc.axes["condition"] == list(CONDITIONS)
    assert acc.attrs["T"] == [2, 3]
    assert np.all((acc.values >= 0) & (acc.values <= 1))
    # Accuracies are shares of 10 scenes.
    np.testing.assert_allclose(acc.values * 10, np.round(acc.values * 10), atol=1e-9)
    truth = scenes.scenes.labels["category"]
    expected_original = np.mean(np.argmax(np.asarray(model(scenes.scenes.images)), -1) == truth)
    np.testing.assert_allclose(result.original_accuracy.values, [expected_original] * 2)
    # The vectorised, resumed reruns equal a plain full rerun with the variant's flow.
    variant = model(scenes.variants["y"], return_activations=True)
    log_probs = model.run_with_flows(
        scenes.scenes.images, {("fc1", 1): {k: variant.flows["fc1"][k][1] for k in ("bias", "gain")}}
    )
    expected = np.mean(np.argmax(np.asarray(log_probs), -1) == truth)
    assert acc.sel(perturbation="y", condition="perturbed", layer="fc1", step=1)[0] == pytest.approx(expected)


def test_perturb_flows_is_reproducible_and_batch_independent(result, model, scenes) -> None:
    again = perturb_flows(
        model, [scenes, scenes], perturbations=("x", "y", "scale"), layers=("conv1", "fc1"), seed=5, batch_size=10
    )
    np.testing.assert_array_equal(again.accuracy.values, result.accuracy.values)
    # The two repetitions of the same scenes draw different control permutations but share the perturbed runs.
    np.testing.assert_array_equal(result.accuracy.values[:, 0, ..., 0], result.accuracy.values[:, 0, ..., 1])


def test_functional_importance_and_groups(result) -> None:
    importance = result.functional_importance()
    acc, original = result.accuracy.values, result.original_accuracy.values
    np.testing.assert_allclose(importance.values, (acc[:, 1] - acc[:, 0]) / original)
    grouped = result.grouped_importance()
    assert grouped.axes["group"] == ["location", "scale"]  # orientation and category were not run
    np.testing.assert_allclose(grouped.sel(group="location"), importance.values[:2].mean(axis=0))
    text = result.summary()
    assert "Loc." in text and "Scl." in text and "conv1" in text


def test_result_file_round_trip(result, tmp_path) -> None:
    path = result.save(tmp_path / "perturbation.h5")
    loaded = FlowPerturbationResult.load(path)
    np.testing.assert_array_equal(loaded.accuracy.values, result.accuracy.values)
    assert loaded.accuracy.axes == result.accuracy.axes
    assert loaded.attrs["control"] == result.attrs["control"]
    with pytest.raises(FileExistsError):
        result.save(path)
    import h5py

    with h5py.File(path) as f:  # readable without tfprobe: axis names and values are attributes
        assert "accuracy" in f


def test_figure_4d(result, tmp_path) -> None:
    from tfprobe.figures import plot_flow_perturbation

    figure = plot_flow_perturbation(result, tmp_path / "fig4d.png")
    assert len(figure.axes) == 2
    assert (tmp_path / "fig4d.png").stat().st_size > 5000
    heights = [patch.get_height() for patch in figure.axes[0].patches]
    grouped = result.grouped_importance().sel(layer="conv1").mean(axis=-1)  # (group, step)
    np.testing.assert_allclose(sorted(heights), sorted(np.nan_to_num(grouped).ravel()), atol=1e-9)
    with pytest.raises(ValueError, match="suffix"):
        plot_flow_perturbation(result, tmp_path / "fig4d.unknown")


def test_perturb_flows_bad_input(model, scenes) -> None:
    with pytest.raises(ValueError, match="unknown perturbation 'colour'"):
        perturb_flows(model, scenes, perturbations=("colour",))
    with pytest.raises(ValueError, match="unknown step 5"):
        perturb_flows(model, scenes, steps=(5,))
    with pytest.raises(TypeError, match="PerturbedScenes"):
        perturb_flows(model, scenes.scenes)
    one_step = GainModulatedRNN.from_code("bglt_0111", timesteps=1, jit_compile=False)
    with pytest.raises(ValueError, match="no recurrent flows"):
        perturb_flows(one_step, scenes)
