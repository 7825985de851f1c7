"""What makes rendering fast without changing its images: precision (float32, bfloat16, "auto"), how the
loop is compiled, computing only the channels an objective reads, the bounded-contrast parameterisations,
and the random numbers of the transformations."""

from __future__ import annotations

import importlib

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfprobe import Probe
from tfprobe import visualize as fv
from tfprobe.visualize import precision as precision_module
from tfprobe.visualize.param import Fourier, Maco
from tfprobe.visualize.transform import Blur, apply_transforms, normal

render_module = importlib.import_module("tfprobe.visualize.render")


def wide_cnn(seed: int = 0, name: str = "wide", size: int | None = 32) -> keras.Model:
    """A small RGB CNN whose last conv layer has many channels (so computing a few of them is worth it)."""
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((size, size, 3)),
            keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="c1"),
            keras.layers.MaxPooling2D(name="p1"),
            keras.layers.Conv2D(48, 3, padding="same", activation="relu", name="c2"),
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dense(40, activation="softmax", name="out"),
        ],
        name=name,
    )


@pytest.fixture(autouse=True)
def fresh_precision_cache():
    precision_module.native_bfloat16.cache_clear()
    yield
    precision_module.native_bfloat16.cache_clear()


# --------------------------------------------------------------------------- precision


def test_cpu_flags_are_read_from_cpuinfo(tmp_path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx512f avx512_bf16 amx_tile\n\nprocessor\t: 1\n")
    assert {"avx512_bf16", "amx_tile", "sse2"} <= precision_module.cpu_flags(cpuinfo)
    assert precision_module.cpu_flags(tmp_path / "missing") == frozenset()


@pytest.mark.parametrize(
    ("flags", "onednn", "jit", "expected", "reason"),
    [
        ({"avx512f", "avx512_bf16"}, True, False, True, "AVX512_BF16 and TensorFlow runs its convolutions"),
        ({"amx_bf16"}, True, False, True, "AMX_BF16"),
        ({"avx512f", "avx2"}, True, False, False, "no AVX512-BF16 or AMX-BF16"),
        ({"avx512_bf16"}, False, False, False, "oneDNN kernels are off"),
        ({"avx512_bf16"}, True, True, False, "XLA's CPU convolutions do not use it"),
    ],
)
def test_native_bfloat16_on_cpus(monkeypatch, flags, onednn, jit, expected, reason) -> None:
    monkeypatch.setattr(precision_module, "_accelerators", lambda: ([], []))
    monkeypatch.setattr(precision_module, "cpu_flags", lambda *_: frozenset(flags))
    monkeypatch.setattr(precision_module, "onednn_enabled", lambda: onednn)
    native, why = precision_module.native_bfloat16(jit)
    assert native is expected and reason in why
    chosen, said = precision_module.resolve_precision("auto", jit_compile=jit)
    assert chosen == ("bfloat16" if expected else "float32") and said == f"auto: {why}"


def test_native_bfloat16_on_accelerators(monkeypatch) -> None:
    monkeypatch.setattr(precision_module, "_accelerators", lambda: (["gpu0"], []))
    monkeypatch.setattr(precision_module, "_gpu_capability", lambda gpu: (8, 6))
    assert precision_module.native_bfloat16(False) == (True, "the GPU (compute capability 8.6) has bfloat16 units")
    precision_module.native_bfloat16.cache_clear()
    monkeypatch.setattr(precision_module, "_gpu_capability", lambda gpu: (7, 5))
    assert precision_module.native_bfloat16(False)[0] is False
    precision_module.native_bfloat16.cache_clear()
    monkeypatch.setattr(precision_module, "_accelerators", lambda: ([], ["tpu0"]))
    assert precision_module.native_bfloat16(True)[0] is True


def test_onednn_can_be_switched_off_by_its_variable(monkeypatch) -> None:
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    assert precision_module.onednn_enabled() is False


def test_precision_requested_explicitly_is_kept_and_bad_values_name_the_three() -> None:
    assert precision_module.resolve_precision("float32") == ("float32", "requested")
    assert precision_module.resolve_precision("bfloat16") == ("bfloat16", "requested")
    assert precision_module.resolve_precision("auto", supported=False)[0] == "float32"
    for bad in ("float16", "Auto", None, 16):
        with pytest.raises(ValueError, match="'float32', 'bfloat16', 'auto'"):
            precision_module.resolve_precision(bad)


def test_render_with_auto_precision_says_what_it_chose_and_why() -> None:
    model = wide_cnn(seed=3, name="auto_precision")
    native, why = precision_module.native_bfloat16(False)
    result = fv.render(model, "c2", channels=[0, 1], steps=3, precision="auto", progress=False)
    assert result.settings["precision"] == ("bfloat16" if native else "float32")
    assert result.settings["precision_reason"] == f"auto: {why}"
    with pytest.raises(ValueError, match="precision must be one of 'float32', 'bfloat16', 'auto', got 'half'"):
        fv.render(model, "c2:0", steps=1, precision="half", progress=False)
    rnn = __import__("tfprobe").GainModulatedRNN.from_code("bglt_0111", timesteps=1, n_feats=2)
    recurrent = fv.render(rnn, "conv1@t0:0", steps=1, precision="auto", progress=False)
    assert recurrent.settings["precision"] == "float32"
    assert "float32 only" in recurrent.settings["precision_reason"]


def test_bfloat16_runs_the_convolutions_in_bfloat16_where_tensorflow_says_so() -> None:
    """The executed graph (after TensorFlow's rewrites) holds the convolutions in bfloat16: with oneDNN on,
    its own kernels (``_MklNative*``); on a CPU with AVX512-BF16 those run the native instructions."""
    model = wide_cnn(seed=4, name="executed_graph", size=64)
    kernels = precision_module.executed_convolutions(
        lambda: fv.render(model, "c2", channels=[0, 1, 2], size=64, steps=2, precision="bfloat16", progress=False)
    )
    in_bfloat16 = {name: count for name, count in kernels.items() if name.endswith("[bfloat16]")}
    assert in_bfloat16 and not any(name.endswith("[float]") for name in kernels), kernels
    if precision_module.onednn_enabled():
        assert all(name.startswith("_MklNative") for name in in_bfloat16), kernels


# --------------------------------------------------------------------------- compilation


def test_the_loop_is_compiled_as_the_hardware_and_the_images_call_for() -> None:
    model = wide_cnn(seed=5, name="compilation", size=None)
    small = fv.render(model, "c2", channels=[0, 1], size=32, steps=2, progress=False)
    assert small.settings["compilation"] == ("xla" if render_module._on_accelerator() else "graph")
    if not render_module._on_accelerator():  # 16 images of 48 x 48 x 3 = 110,592 values per step
        large = fv.render(model, "c2", channels=range(16), size=48, steps=2, progress=False)
        assert large.settings["compilation"] == "mixed"
        # the same seed gives the same images whatever the compilation
        whole = fv.render(model, "c2", channels=range(16), size=48, steps=2, jit_compile=True, progress=False)
        graph = fv.render(model, "c2", channels=range(16), size=48, steps=2, jit_compile=False, progress=False)
        assert (whole.settings["compilation"], graph.settings["compilation"]) == ("xla", "graph")
        np.testing.assert_allclose(whole.images, large.images, atol=1e-4)
        np.testing.assert_allclose(graph.images, large.images, atol=1e-4)


def test_a_mixed_loop_traces_once_per_batch_shape() -> None:
    model = wide_cnn(seed=6, name="traces", size=None)
    fv.render(model, "c2", channels=range(16), size=48, steps=3, progress=False)
    backend = render_module._PROBES[model]
    compiled = list(render_module._COMPILED[backend].values())
    counts = [c.traced_run.experimental_get_tracing_count() for c in compiled]
    fv.render(model, "c2", channels=range(16, 32), size=48, steps=5, seed=2, progress=False)
    assert [c.traced_run.experimental_get_tracing_count() for c in compiled] == counts


def test_maco_reuses_its_loop_for_the_same_images_and_traces_anew_for_others() -> None:
    model = wide_cnn(seed=8, name="maco_cache", size=None)
    natural = np.random.default_rng(3).random((6, 32, 32, 3), dtype=np.float32)
    options = {"recipe": "maco", "size": 32, "steps": 2, "progress": False}
    first = fv.render(model, "c2", channels=[0, 1], maco_images=natural, **options)
    backend = render_module._PROBES[model]
    assert len(render_module._COMPILED[backend]) == 1
    again = fv.render(model, "c2", channels=[0, 1], maco_images=natural.copy(), **options)  # equal, not the same
    assert len(render_module._COMPILED[backend]) == 1
    np.testing.assert_array_equal(first.images, again.images)
    fv.render(model, "c2", channels=[0, 1], maco_images=natural[::-1], **options)
    assert len(render_module._COMPILED[backend]) == 2


# --------------------------------------------------------------------------- computing only the channels read


def test_forward_can_compute_only_selected_channels() -> None:
    model = wide_cnn(seed=7, name="select")
    backend = Probe(model)
    assert backend.selectable("c2") and backend.selectable("out.logits") and not backend.selectable("gap")
    images = tf.random.uniform((4, 32, 32, 3), seed=1)
    full = backend.forward(images, ("c2", "out.logits", "gap"))
    index, classes = tf.constant([5, 0, 47, 5]), tf.constant([39, 2, 2, 0])
    names = ("c2", "out.logits", "gap")
    picked = backend.forward(images, names, compiled=False, select={"c2": index, "out.logits": classes})
    np.testing.assert_allclose(picked["c2"], tf.gather(full["c2"], index, axis=-1), rtol=1e-5, atol=1e-6)
    expected = tf.gather(full["out.logits"], classes, axis=-1)
    np.testing.assert_allclose(picked["out.logits"], expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(picked["gap"], full["gap"], rtol=1e-6)
    with pytest.raises(ValueError, match="not made by a plain Conv2D or Dense layer"):
        backend.forward(images, ("gap",), compiled=False, select={"gap": index})
    with pytest.raises(ValueError, match="compiled=False"):
        backend.forward(images, ("c2",), select={"c2": index})


def test_channel_objectives_compute_only_their_channels_and_give_the_same_images(monkeypatch) -> None:
    model = wide_cnn(seed=8, name="selected")
    backend = Probe(model)
    objective = fv.channel("c2", [3, 9, 30]).bind(render_module._resolver(backend), lambda name: backend.units[name])
    assert render_module._selection(objective, backend) == {"c2": (0, 48)}
    pair = (fv.channel("c2", [1]) - fv.channel("c2", [2])).bind(render_module._resolver(backend), backend.units.get)
    assert render_module._selection(pair, backend) == {}  # two terms read c2: every channel is computed
    selected = fv.render(model, "c2", channels=[3, 9, 30], steps=6, progress=False)
    logits = fv.render(model, fv.class_logit([1, 7]), steps=6, progress=False)
    monkeypatch.setattr(render_module, "_selection", lambda objective, backend: {})
    twin = wide_cnn(seed=8, name="selected_twin")
    full = fv.render(twin, "c2", channels=[3, 9, 30], steps=6, progress=False)
    full_logits = fv.render(twin, fv.class_logit([1, 7]), steps=6, progress=False)
    np.testing.assert_allclose(selected.images, full.images, atol=1e-5)
    np.testing.assert_allclose(selected.values, full.values, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(logits.values, full_logits.values, rtol=1e-4, atol=1e-6)


# --------------------------------------------------------------------------- parameterisations


def test_fourier_contrast_is_bounded() -> None:
    fourier = Fourier(decay=2.0, contrast=4.0)
    spectrum = [tf.constant(np.random.default_rng(0).normal(0, 3.0, (2, 5, 1, 24, 13)).astype(np.float32))]
    images = fourier.image(spectrum, 24, 24).numpy()
    logits = np.log(images / (1 - images))
    np.testing.assert_allclose(logits.std(axis=(1, 2, 3)), 4.0, rtol=1e-3)  # whatever the spectrum's scale
    assert np.all(np.abs(logits.mean(axis=(1, 2, 3))) <= 2.0 + 1e-5)  # the brightness bound
    assert fourier.describe()["contrast"] == 4.0 and "contrast" not in Fourier().describe()
    with pytest.raises(ValueError, match="contrast must be positive"):
        Fourier(contrast=0)


def test_maco_keeps_the_natural_images_mean_and_scales_their_contrast() -> None:
    rng = np.random.default_rng(2)
    natural = np.clip(rng.normal(0.3, 0.2, (30, 16, 16, 1)), 0, 1).astype(np.float32)
    maco = Maco(natural, contrast=1.5)  # (low enough that no pixel rounds to 0 or 1 in float32)
    maco.prepare(16, 16, 1)
    images = maco.image([tf.constant(x) for x in maco.initial(4, 16, 16, 1, seed=0)], 16, 16).numpy()
    logits = np.log(images / (1 - images))
    mean = np.clip(natural.mean(), 0.02, 0.98)
    np.testing.assert_allclose(logits.mean(axis=(1, 2, 3)), np.log(mean / (1 - mean)), atol=1e-3)
    np.testing.assert_allclose(logits.std(axis=(1, 2, 3)), 1.5 * natural.std() / (mean * (1 - mean)), rtol=1e-3)
    with pytest.raises(ValueError, match="contrast must be positive"):
        Maco(natural, contrast=-1)


# --------------------------------------------------------------------------- random numbers and blur


def test_noise_is_standardised_bounded_and_the_same_under_xla() -> None:
    seed = tf.constant([3, 9])
    values = normal(seed, (50_000,)).numpy()
    assert abs(values.mean()) < 0.02 and abs(values.std() - 1) < 0.02
    assert np.abs(values).max() <= 3.47  # four bytes summed: bounded at sqrt(12) standard deviations
    kurtosis = ((values - values.mean()) ** 4).mean() / values.var() ** 2
    assert 2.6 < kurtosis < 2.8  # Irwin-Hall of four: 2.7 (a Gaussian's is 3)
    compiled = tf.function(lambda s: normal(s, (64, 3)), jit_compile=True)
    np.testing.assert_array_equal(compiled(seed).numpy(), normal(seed, (64, 3)).numpy())


def test_blur_draws_its_width_and_smooths() -> None:
    images = tf.random.uniform((2, 16, 16, 3), seed=4)
    blurred = apply_transforms(images, (Blur(1.0, 1.0),), tf.constant([1, 2])).numpy()
    assert np.abs(np.diff(blurred, axis=1)).mean() < 0.5 * np.abs(np.diff(images.numpy(), axis=1)).mean()
    np.testing.assert_allclose(blurred.mean(), images.numpy().mean(), atol=0.01)
    a = apply_transforms(images, (Blur(0.3, 1.5),), tf.constant([1, 2]))
    b = apply_transforms(images, (Blur(0.3, 1.5),), tf.constant([1, 3]))
    assert not np.allclose(a, b)
    compiled = tf.function(lambda x: apply_transforms(x, (Blur(0.3, 1.5),), tf.constant([1, 2])), jit_compile=True)
    np.testing.assert_allclose(compiled(images), a, atol=1e-5)
    none = apply_transforms(images, (Blur(1.0, 1.0),), tf.constant([1, 2]), strength=0.0).numpy()
    np.testing.assert_allclose(none, images.numpy(), atol=1e-5)  # zero strength: no blur


def test_tensorflows_retracing_warnings_about_tfprobes_own_loops_are_dropped_and_others_kept() -> None:
    import logging

    from tfprobe._runtime import _OwnRetracingFilter

    def record(message: str) -> logging.LogRecord:
        return logging.LogRecord("tensorflow", logging.WARNING, __file__, 1, message, None, None)

    own = "5 out of the last 5 calls to <function _compile.<locals>.run at 0x1> triggered tf.function retracing."
    users = "5 out of the last 5 calls to <function step at 0x1> triggered tf.function retracing."
    drop = _OwnRetracingFilter()
    assert not drop.filter(record(own)) and drop.filter(record(users)) and drop.filter(record("anything else"))
    assert any(isinstance(f, _OwnRetracingFilter) for f in logging.getLogger("tensorflow").filters)
