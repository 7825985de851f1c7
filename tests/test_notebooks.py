"""The notebooks run top to bottom (in a scratch folder, with the installed tfprobe and its command line).

Each execution is kept for the documentation site's gallery (docs/hooks/site_inputs.py), which
tests/test_site.py then builds without running the notebooks again.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs" / "hooks"))

from site_inputs import execute_notebook, notebooks, store_executed_notebook

# In the process and order of tests/test_site.py, which builds the site from what these tests store.
pytestmark = pytest.mark.xdist_group("site-inputs")

NOTEBOOKS = notebooks()


@pytest.mark.heavy
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path: Path, tmp_path: Path) -> None:
    notebook = execute_notebook(path, tmp_path)  # raises CellExecutionError, with the failing cell, if one fails
    errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    if path.stem == "layerwise_probing":
        written = {p.name for p in (tmp_path / "layerwise_probing_outputs").iterdir()}
        assert {"fashion_cnn.act.h5", "decoding.json", "footwear_by_layer.png", "cli.act.h5"} <= written
    if path.stem == "dataset_examples":
        written = {p.name for p in (tmp_path / "dataset_examples_outputs").iterdir()}
        assert {"conv4_crops.png", "conv4_whole.png", "conv4_examples", "rnn_conv1_over_time.png", "atlas"} <= written
        assert (tmp_path / "dataset_examples_outputs" / "conv4_examples" / "examples.json").is_file()
    if path.stem == "representational_similarity":
        folder = tmp_path / "representational_similarity_outputs"
        written = {p.name for p in folder.iterdir()}
        figures = {"rdms_by_category.png", "category_over_time.png", "location_over_time.png", "rdm_mds.png"}
        assert figures | {"cka_rnn_vs_cnn.png", "rdms.h5", "model_comparison.json", "cka_rnn_vs_cnn.json"} <= written
        from tfprobe.similarity import RDMs, SimilarityMatrix

        rdms = RDMs.load(folder / "rdms.h5")
        assert len(rdms.names) == 12 and rdms.n_conditions >= 3  # conv1, conv2, fc1 x 4 time steps
        models = SimilarityMatrix.load(folder / "model_comparison.json")
        assert {"category", "location"} <= set(models.columns) and models.bootstrap is not None
        across = SimilarityMatrix.load(folder / "cka_rnn_vs_cnn.json")
        assert across.rows == rdms.names and len(across.columns) == 3
    if path.stem == "recurrent_lab":
        written = {p.name for p in (tmp_path / "recurrent_lab_outputs").iterdir()}
        assert {"decoding.h5", "perturbation.h5", "training"} <= written
        images = [
            o for c in notebook.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})
        ]
        assert len(images) >= 9  # every figure of the lab is shown
    store_executed_notebook(notebook, path)  # for the site's gallery, once every check above passed
