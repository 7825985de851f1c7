"""Perturbed scenes: equal to RNN_perturb.py's per-image construction, and each variant changes one thing."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tfprobe.datasets import PERTURBATIONS, ClutteredScenes, SceneLayout
from tfprobe.datasets.scene_layout import EXACT_ZOOMS


@pytest.fixture(scope="module")
def generator(scene_sources) -> ClutteredScenes:
    digits, fashion = scene_sources
    return ClutteredScenes("test", seed=8, digits=digits, fashion=fashion)


@pytest.fixture(scope="module", params=["original", "corrected"])
def perturbed(request, generator):
    return generator.sample_perturbed(24, swap=request.param)


def _float_sources(generator: ClutteredScenes) -> tuple[np.ndarray, np.ndarray]:
    objects = generator.objects
    return objects.images[: objects.n_digits] / 255.0, objects.images[objects.n_digits :] / 255.0


def test_equals_the_per_image_original(generator, perturbed, reference_scenes) -> None:
    replacements = perturbed.replacements
    scenes, variants = reference_scenes.render_perturbed_layout(
        perturbed.scenes.layout,
        replacements.same_domain,
        replacements.other_domain,
        *_float_sources(generator),
        perturbed.swap,
    )
    np.testing.assert_allclose(perturbed.scenes.images, scenes, atol=2e-6)
    assert set(perturbed.variants) == set(PERTURBATIONS)
    for name in PERTURBATIONS:
        np.testing.assert_allclose(perturbed.variants[name], variants[name], atol=2e-6, err_msg=name)
        # each variant's clean image is its target alone: it appears, as such, in the variant
        clean = perturbed.variant_clean[name]
        assert clean.shape == (24, 100, 100, 1) and np.all(clean.reshape(24, -1).max(axis=1) == 1.0)


def test_scenes_use_the_exact_values(perturbed) -> None:
    layout = perturbed.scenes.layout
    assert set(np.unique(layout.zoom)) <= set(EXACT_ZOOMS)
    assert set(np.unique(np.abs(layout.angle))) == {35.0}
    assert set(np.unique(layout.row)) <= {25, 75} and set(np.unique(layout.col)) <= {25, 75}
    assert perturbed.scenes.images.shape == (24, 100, 100, 1)
    for name in PERTURBATIONS:
        assert perturbed.variants[name].shape == (24, 100, 100, 1) and perturbed.variants[name].dtype == np.float32


def test_every_variant_changes_the_scene(perturbed) -> None:
    for name in PERTURBATIONS:
        change = np.abs(perturbed.variants[name] - perturbed.scenes.images).reshape(24, -1).max(axis=1)
        assert np.all(change > 0.05), name


def test_variant_labels_change_one_property(perturbed, generator) -> None:
    labels = perturbed.scenes.labels
    for name in PERTURBATIONS:
        changed = perturbed.variant_labels[name]
        differing = {key for key in labels if not np.array_equal(labels[key], changed[key])}
        expected = {
            "category_same_domain": {"category"},
            "category_other_domain": {"category", "domain"},
        }.get(name, {name})
        assert differing == expected, name
    same = perturbed.variant_labels["category_same_domain"]
    assert np.all(same["category"] != labels["category"]) and np.all(same["category"] // 10 == labels["domain"])
    other = perturbed.variant_labels["category_other_domain"]
    assert np.all(other["category"] // 10 == 1 - labels["domain"])


def _swap_slots(layout: SceneLayout, partner: np.ndarray) -> SceneLayout:
    """The layout with the target and its partner exchanging slots (hence positions), target in its new slot."""
    scene = np.arange(len(layout))
    fields = {}
    for field in dataclasses.fields(SceneLayout):
        values = getattr(layout, field.name).copy()
        if field.name in ("target", "row", "col"):
            fields[field.name] = values
            continue
        values[scene, layout.target], values[scene, partner] = values[scene, partner], values[scene, layout.target]
        fields[field.name] = values
    fields["target"] = partner
    return SceneLayout(**fields)


def _edited(layout: SceneLayout, **changes: np.ndarray) -> SceneLayout:
    """The layout with the target's fields set to ``changes`` (one value per scene)."""
    scene = np.arange(len(layout))
    fields = {f.name: getattr(layout, f.name).copy() for f in dataclasses.fields(SceneLayout)}
    for name, values in changes.items():
        fields[name][scene, layout.target] = values
    return SceneLayout(**fields)


def test_corrected_variants_are_scenes_with_the_target_edited(generator) -> None:
    """Each corrected variant equals a fresh rendering of the scene with one target property edited."""
    perturbed = generator.sample_perturbed(16, swap="corrected")
    layout = perturbed.scenes.layout
    domain, large = layout.at_target("domain"), layout.at_target("large")
    edits = {
        "x": _swap_slots(layout, 4 + ((layout.target - 4) ^ 2)),
        "y": _swap_slots(layout, 4 + ((layout.target - 4) ^ 1)),
        "orientation": _edited(layout, angle=-layout.at_target("angle"), negative=~layout.at_target("negative")),
        "scale": _edited(layout, zoom=np.where(large, EXACT_ZOOMS[0], EXACT_ZOOMS[1]), large=~large),
        "category_same_domain": _edited(layout, index=perturbed.replacements.same_domain),
        "category_other_domain": _edited(layout, domain=1 - domain, index=perturbed.replacements.other_domain),
    }
    for name, edited in edits.items():
        expected = generator.render(edited)
        np.testing.assert_allclose(perturbed.variants[name], expected.images, atol=2e-6, err_msg=name)
        np.testing.assert_allclose(perturbed.variant_clean[name], expected.clean, atol=2e-6, err_msg=name)
        for key, values in expected.labels.items():
            np.testing.assert_array_equal(perturbed.variant_labels[name][key], values, err_msg=f"{name} {key}")


def test_original_swaps_keep_the_quirk(generator) -> None:
    """RNN_perturb.py's rotation swap rotates back to about 0 degrees; its size swap lands in between."""
    original = generator.sample_perturbed(12, swap="original")
    layout = original.scenes.layout
    upright = generator.render(_edited(layout, angle=np.zeros(12))).images
    turned = generator.render(_edited(layout, angle=-layout.at_target("angle"))).images
    variant = original.variants["orientation"]
    to_upright = np.abs(variant - upright).reshape(12, -1).sum(axis=1)
    to_turned = np.abs(variant - turned).reshape(12, -1).sum(axis=1)
    assert np.all(to_upright < to_turned)

    # the size swap zooms twice (x0.8 then x1.6, or x1.6 then x0.8): x1.28 overall, whichever the start
    def ink(clean: np.ndarray) -> np.ndarray:
        return (clean[..., 0] > 0.1).sum(axis=(1, 2)).astype(float)

    large = layout.at_target("large")
    small_area = ink(generator.render(_edited(layout, zoom=np.full(12, 0.8))).clean)
    large_area = ink(generator.render(_edited(layout, zoom=np.full(12, 1.6))).clean)
    quirk_area = ink(original.variant_clean["scale"])
    assert np.all((quirk_area > small_area * 1.5) & (quirk_area < large_area * 0.95)), (small_area, quirk_area)
    # areas scale with the square of the zoom: (1.28 / 1.6)^2 = 0.64 and (1.28 / 0.8)^2 = 2.56, less where the
    # canvas clips a large object
    assert 0.55 < np.median(quirk_area / large_area) < 0.75 and 2.0 < np.median(quirk_area / small_area) < 2.8
    assert set(np.unique(large)) == {False, True}  # both directions were checked


def test_same_seed_same_perturbations(scene_sources) -> None:
    digits, fashion = scene_sources
    a = ClutteredScenes("test", seed=4, digits=digits, fashion=fashion).sample_perturbed(6)
    b = ClutteredScenes("test", seed=4, digits=digits, fashion=fashion).sample_perturbed(6)
    assert a.scenes.images.tobytes() == b.scenes.images.tobytes()
    assert all(a.variants[k].tobytes() == b.variants[k].tobytes() for k in PERTURBATIONS)


def test_bad_swap_and_single_class_domains(generator, scene_sources) -> None:
    with pytest.raises(ValueError, match=r"swap must be one of 'original', 'corrected', got 'fixed'"):
        generator.sample_perturbed(4, swap="fixed")
    with pytest.raises(ValueError, match=r"n must be a positive int, got 0"):
        generator.sample_perturbed(0)
    digits, fashion = scene_sources
    ones = digits.labels == 1
    only_ones = ClutteredScenes("test", seed=0, digits=(digits.images[ones], digits.labels[ones]), fashion=fashion)
    with pytest.raises(ValueError, match="at least two classes of digits"):
        only_ones.sample_perturbed(16)
