"""Images and faces preprocessing options: resampling filter, grey conversion, file selection.

Each option is checked to change a number in the direction its definition says: resizing
without anti-aliasing keeps more fine detail, so stored patterns differ more (higher D); the
three grey conversions weigh green 0.7154, 0.587 and 1/3; random selection picks other files
than the first K, reproducibly from its seed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from stochastic_attention import cli, metrics
from stochastic_attention.config import prepare
from stochastic_attention.domains import _imaging, faces, images
from stochastic_attention.domains.base import DomainError, load_memory_file
from stochastic_attention.plan import Plan
from stochastic_attention.seeds import derive_seed
from workflow_utils import REPO, load_config


def _photo_crops(n: int, side: int) -> list[np.ndarray]:
    """``n`` colour crops (side, side, 3) uint8 of scikit-image's bundled photographs."""
    from skimage import data

    crops = []
    for picture in (data.astronaut(), data.coffee(), data.chelsea()):
        height, width = picture.shape[:2]
        for top in range(0, height - side + 1, side):
            for left in range(0, width - side + 1, side):
                crops.append(picture[top : top + side, left : left + side, :3])
    return crops[:n]


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory) -> Path:
    """Twelve 128×128 RGB PNGs with the fine detail of real photographs."""
    folder = tmp_path_factory.mktemp("photos")
    for i, crop in enumerate(_photo_crops(12, 128)):
        Image.fromarray(crop, mode="RGB").save(folder / f"photo{i:02d}.png")
    return folder


# --------------------------------------------------------------------------- anti-aliasing


def test_resize_without_anti_aliasing_samples_the_pixels():
    """Shrinking a ±1 checkerboard by 3: smoothed to ≈ 0 with anti-aliasing, kept without
    (each new pixel centre falls on an old one)."""
    board = np.indices((48, 48)).sum(axis=0) % 2 * 2.0 - 1.0
    smooth = _imaging.resize(board, (16, 16))
    sharp = _imaging.resize(board, (16, 16), anti_aliasing=False)
    assert np.abs(smooth).max() < 0.2
    assert np.abs(sharp).mean() > 5 * np.abs(smooth).mean()
    # enlarging: no difference (skimage smooths only when shrinking)
    small = np.random.default_rng(0).uniform(size=(8, 8))
    np.testing.assert_array_equal(
        _imaging.resize(small, (32, 32)), _imaging.resize(small, (32, 32), anti_aliasing=False)
    )


def test_no_anti_aliasing_raises_stored_pattern_diversity(photo_folder):
    spec = {"path": str(photo_folder), "size": [32, 32]}
    smooth = images.build_memory(spec)
    sharp = images.build_memory(spec | {"anti_aliasing": False})
    assert smooth.metadata["anti_aliasing"] is True and sharp.metadata["anti_aliasing"] is False
    d_smooth, d_sharp = metrics.diversity(smooth.patterns), metrics.diversity(sharp.patterns)
    assert d_sharp > 1.05 * d_smooth


def test_faces_from_larger_images_follow_the_same_option(photo_folder, tmp_path):
    raw = tmp_path / "faces.npz"
    faces.fetch({"kind": "folder", "path": str(photo_folder)}, raw)
    smooth = faces.build_memory({"size": [32, 32], "n_patterns": 12}, raw)
    sharp = faces.build_memory({"size": [32, 32], "n_patterns": 12, "anti_aliasing": False}, raw)
    assert metrics.diversity(sharp.patterns) > 1.05 * metrics.diversity(smooth.patterns)
    # the same images through the images domain give the same memories
    same = images.build_memory({"path": str(photo_folder), "size": [32, 32],
                                "anti_aliasing": False})
    np.testing.assert_allclose(sharp.patterns, same.patterns, atol=1e-6)  # faces store float32


def test_offline_faces_are_enlarged_so_anti_aliasing_changes_nothing(tmp_path):
    raw = tmp_path / "lfw.npz"
    faces.fetch(None, raw)
    smooth = faces.build_memory({"size": [64, 64], "n_patterns": 10}, raw)
    sharp = faces.build_memory({"size": [64, 64], "n_patterns": 10, "anti_aliasing": False}, raw)
    np.testing.assert_array_equal(smooth.patterns, sharp.patterns)


# ------------------------------------------------------------------------- grey conversion


@pytest.mark.parametrize(
    ("grey", "expected"),
    [("rec709", 0.7154), ("rec601", 150 / 255), ("mean", 1 / 3)],  # 150 = round(0.587·255)
)
def test_grey_conversions_weigh_green_as_defined(tmp_path, grey, expected):
    path = tmp_path / "green.png"
    Image.fromarray(np.tile(np.array([0, 255, 0], np.uint8), (3, 4, 1)), mode="RGB").save(path)
    pixels, mode, _ = _imaging.read_grayscale(path, "test", grey)
    assert mode == "RGB" and pixels.shape == (3, 4)
    np.testing.assert_allclose(pixels, expected, rtol=1e-4)


def test_rec601_is_pillows_convert_l(photo_folder):
    path = sorted(photo_folder.iterdir())[0]
    pixels, _, _ = _imaging.read_grayscale(path, "test", "rec601")
    with Image.open(path) as image:
        np.testing.assert_array_equal(pixels * 255, np.asarray(image.convert("L"), float))


def test_grey_option_changes_the_memory_of_colour_images_only(photo_folder, tmp_path):
    spec = {"path": str(photo_folder), "size": [16, 16], "n_patterns": 4}
    by_709 = images.build_memory(spec)
    by_601 = images.build_memory(spec | {"grey": "rec601"})
    assert by_709.metadata["grey"] == "rec709" and by_601.metadata["grey"] == "rec601"
    assert 1e-4 < np.abs(by_709.patterns - by_601.patterns).max() < 0.05
    grey_folder = tmp_path / "grey"
    grey_folder.mkdir()
    Image.fromarray(_photo_crops(1, 32)[0][..., 0], mode="L").save(grey_folder / "a.png")
    Image.fromarray(_photo_crops(2, 32)[1][..., 1], mode="L").save(grey_folder / "b.png")
    grey_spec = {"path": str(grey_folder), "size": [16, 16]}
    np.testing.assert_array_equal(
        images.build_memory(grey_spec).patterns,
        images.build_memory(grey_spec | {"grey": "mean"}).patterns,
    )
    with pytest.raises(DomainError, match="grey must be one of"):
        images.build_memory(spec | {"grey": "luma"})


def test_faces_folder_source_takes_the_grey_option(photo_folder, tmp_path):
    raw_709, raw_mean = tmp_path / "a.npz", tmp_path / "b.npz"
    faces.fetch({"kind": "folder", "path": str(photo_folder)}, raw_709)
    provenance = faces.fetch({"kind": "folder", "path": str(photo_folder), "grey": "mean"},
                             raw_mean)
    assert provenance["grey"] == "mean"
    first_709 = faces.load(raw_709)[0][0]
    first_mean = faces.load(raw_mean)[0][0]
    crop = _photo_crops(1, 128)[0].astype(float)
    np.testing.assert_allclose(first_mean, crop.mean(axis=-1) / 255, atol=1e-6)
    assert not np.allclose(first_709, first_mean, atol=1e-3)


# ------------------------------------------------------------------------------- selection


def test_select_files_first_and_random():
    np.testing.assert_array_equal(_imaging.select_files(10, 3), [0, 1, 2])
    drawn = _imaging.select_files(1000, 100, "random", seed=5)
    assert drawn.size == 100 and np.unique(drawn).size == 100 and np.all(np.diff(drawn) > 0)
    np.testing.assert_array_equal(drawn, _imaging.select_files(1000, 100, "random", seed=5))
    assert not np.array_equal(drawn, _imaging.select_files(1000, 100, "random", seed=6))
    assert drawn.max() > 500  # spread over the whole folder, not its first files
    with pytest.raises(DomainError, match="needs a seed"):
        _imaging.select_files(10, 3, "random")
    with pytest.raises(DomainError, match="selection must be one of"):
        _imaging.select_files(10, 3, "last")


def test_random_selection_picks_other_files_reproducibly(photo_folder, tmp_path):
    spec = {"path": str(photo_folder), "size": [8, 8], "n_patterns": 4}
    first = images.build_memory(spec)
    assert [f["name"] for f in first.metadata["files"]] == [f"photo{i:02d}.png" for i in range(4)]
    random = images.build_memory(spec | {"selection": "random", "selection_seed": 11})
    again = images.build_memory(spec | {"selection": "random", "selection_seed": 11})
    names = [f["name"] for f in random.metadata["files"]]
    assert names == sorted(names) and names != [f["name"] for f in first.metadata["files"]]
    np.testing.assert_array_equal(random.patterns, again.patterns)
    raw = tmp_path / "faces.npz"
    faces.fetch({"kind": "folder", "path": str(photo_folder)}, raw)
    face_first = faces.build_memory({"size": [8, 8], "n_patterns": 4}, raw)
    face_random = faces.build_memory(
        {"size": [8, 8], "n_patterns": 4, "selection": "random", "selection_seed": 11}, raw
    )
    assert face_first.metadata["names"] == [f"photo{i:02d}.png" for i in range(4)]
    assert face_random.metadata["names"] == names  # the same draw over the same 12 files


def test_memory_step_seeds_random_selection_from_config_seed_and_dataset(photo_folder, tmp_path):
    spec = {"domain": "images", "path": str(photo_folder), "size": [8, 8], "n_patterns": 4,
            "selection": "random"}
    out = {}
    plan = Plan(config={"seed": 3}, datasets={"one": spec, "two": spec})
    for dataset in ("one", "two"):
        target = tmp_path / f"{dataset}.npz"
        cli.run_step("memory", plan.memory_spec(dataset), {}, {"memory": target})
        out[dataset] = load_memory_file(target)
        seed = derive_seed(3, "selection", dataset)
        assert out[dataset].metadata["params"]["selection_seed"] == seed
        expected = _imaging.select_files(12, 4, "random", seed)
        assert [f["name"] for f in out[dataset].metadata["files"]] == [
            f"photo{i:02d}.png" for i in expected
        ]


def test_schema_defaults_and_refusals():
    config = load_config(REPO, "smoke.yaml")
    config["datasets"]["lfw_faces"]["anti_aliasing"] = False
    config["datasets"]["lfw_faces"]["selection"] = "random"
    prepare(config, schema_path=REPO / "workflow/schemas/config.schema.yaml")
    default = load_config(REPO, "smoke.yaml")
    prepare(default, schema_path=REPO / "workflow/schemas/config.schema.yaml")
    faces_spec = default["datasets"]["lfw_faces"]
    assert faces_spec["anti_aliasing"] is True and faces_spec["selection"] == "first"
    bad = load_config(REPO, "smoke.yaml")
    bad["datasets"]["lfw_faces"]["selection"] = "best"
    with pytest.raises(Exception, match="selection"):
        prepare(bad, schema_path=REPO / "workflow/schemas/config.schema.yaml")
