"""The user-data domains (array, images) and faces: real files written here, real decoders."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage.color import rgb2gray
from skimage.transform import resize

from stochastic_attention.domains import _imaging, array, base, faces, images

RNG_SEED = 7


def unit(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float64)
    return matrix / np.linalg.norm(matrix, axis=0)


@pytest.fixture(scope="module")
def patterns() -> np.ndarray:
    """(d 16, n 6) positive random patterns, one per column."""
    return np.random.default_rng(RNG_SEED).uniform(0.1, 1.0, size=(16, 6))


# ------------------------------------------------------------------------------ registry


@pytest.mark.parametrize("name", ["array", "images", "faces"])
def test_domains_are_registered_plugins(name):
    domain = base.get_domain(name)
    assert domain.NAME == name
    assert isinstance(domain, base.Domain)
    assert base.register_domain(domain) is domain  # has every required attribute
    assert domain.DATASET_SCHEMA["type"] == "object"


# ------------------------------------------------------------------------------ array


def test_array_npy_columns_and_rows_give_the_same_memory(tmp_path, patterns):
    np.save(tmp_path / "cols.npy", patterns)
    np.save(tmp_path / "rows.npy", patterns.T.astype(np.float32))
    by_columns = array.build_memory(
        {"path": str(tmp_path / "cols.npy"), "layout": "columns", "n_patterns": 4}
    )
    by_rows = array.build_memory(
        {"path": str(tmp_path / "rows.npy"), "layout": "rows", "n_patterns": 4}
    )
    np.testing.assert_allclose(by_columns.patterns, unit(patterns[:, :4]), rtol=1e-12)
    np.testing.assert_allclose(by_rows.patterns, unit(patterns[:, :4]), rtol=1e-6)
    meta = by_columns.metadata
    assert meta["sha256"] == hashlib.sha256((tmp_path / "cols.npy").read_bytes()).hexdigest()
    assert (meta["layout"], meta["d"], meta["n_patterns"], meta["n_available"]) == (
        "columns",
        16,
        4,
        6,
    )
    json.dumps(meta)  # JSON-able
    panel = array.panel(by_columns.patterns, by_columns)  # d 16 is a square: 4×4 images
    assert panel.kind == "image" and panel.images.shape == (4, 4, 4)
    np.testing.assert_allclose(panel.images[1].ravel(), by_columns.patterns[:, 1])


def test_array_default_n_patterns_is_every_pattern(tmp_path, patterns):
    np.save(tmp_path / "x.npy", patterns)
    memory = array.build_memory({"path": str(tmp_path / "x.npy"), "layout": "columns"})
    assert memory.n_patterns == 6


def test_array_relative_path_is_relative_to_the_working_directory(tmp_path, patterns, monkeypatch):
    (tmp_path / "data").mkdir()
    np.save(tmp_path / "data" / "x.npy", patterns)
    monkeypatch.chdir(tmp_path)
    params = {"path": "data/x.npy", "layout": "columns", "n_patterns": 2}
    assert array.dataset_inputs(params) == {"data": "data/x.npy"}
    memory = array.build_memory(params)
    assert memory.metadata["path"] == "data/x.npy"
    np.testing.assert_allclose(memory.patterns, unit(patterns[:, :2]))


def test_array_npz_with_and_without_key(tmp_path, patterns):
    np.savez(tmp_path / "one.npz", patterns=patterns)
    np.savez(tmp_path / "two.npz", other=np.ones((3, 3)), memory=patterns.T)
    only = array.build_memory({"path": str(tmp_path / "one.npz"), "layout": "columns"})
    keyed = array.build_memory(
        {"path": str(tmp_path / "two.npz"), "layout": "rows", "key": "memory", "n_patterns": 6}
    )
    np.testing.assert_allclose(only.patterns, unit(patterns))
    np.testing.assert_allclose(keyed.patterns, unit(patterns))
    assert (only.metadata["key"], keyed.metadata["key"]) == ("patterns", "memory")


@pytest.mark.parametrize("layout", ["columns", "rows"])
@pytest.mark.parametrize("header", [False, True])
def test_array_csv_both_layouts_with_and_without_header(tmp_path, patterns, layout, header):
    matrix = patterns if layout == "columns" else patterns.T
    path = tmp_path / f"{layout}.csv"
    lines = [",".join(repr(float(v)) for v in row) for row in matrix]
    if header:
        lines.insert(0, ",".join(f'"c{j}"' for j in range(matrix.shape[1])))
    path.write_text("\n".join(lines) + "\n")
    memory = array.build_memory({"path": str(path), "layout": layout, "n_patterns": 5})
    np.testing.assert_allclose(memory.patterns, unit(patterns[:, :5]), rtol=1e-12)
    expected_header = [f"c{j}" for j in range(matrix.shape[1])] if header else None
    assert memory.metadata["csv_header"] == expected_header


def test_array_image_shape_and_matrix_panel(tmp_path):
    values = np.random.default_rng(1).uniform(0.1, 1, size=(3, 6))  # rows: K 3, d 6
    np.save(tmp_path / "x.npy", values)
    plain = array.build_memory({"path": str(tmp_path / "x.npy"), "layout": "rows"})
    panel = array.panel(plain.patterns, plain)
    assert panel.kind == "matrix" and panel.images.shape == (1, 6, 3)
    shaped = array.build_memory(
        {"path": str(tmp_path / "x.npy"), "layout": "rows", "image_shape": [2, 3]}
    )
    panel = array.panel(shaped.patterns[:, 0], shaped)
    assert panel.kind == "image" and panel.images.shape == (1, 2, 3)
    np.testing.assert_allclose(panel.images[0], unit(values.T)[:, 0].reshape(2, 3))


def _write(tmp_path: Path, name: str, content) -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, dict):
        np.savez(path, **content)
    else:
        np.save(path, content)
    return path


GOOD = np.arange(1.0, 13.0).reshape(3, 4)  # columns: d 3, K 4

# (file name, content, extra params, words the message must hold)
BAD_ARRAYS = [
    ("missing.npy", None, {}, ["does not exist", "relative"]),
    ("empty.csv", "", {}, ["is empty"]),
    ("blank.csv", "\n\n", {}, ["holds no values"]),
    ("data.txt", "1,2\n", {}, ["suffix", ".npy, .npz or .csv"]),
    ("vector.npy", np.arange(1.0, 5.0), {}, ["shape (4,)", "not a 2-D matrix"]),
    ("cube.npy", np.ones((2, 3, 4)), {}, ["shape (2, 3, 4)", "not a 2-D matrix"]),
    ("words.npy", np.array([["a", "b"], ["c", "d"]]), {}, ["not real numbers", "numeric"]),
    ("complex.npy", np.ones((2, 2), dtype=complex), {}, ["not real numbers"]),
    ("corrupt.npy", b"\x93NUMPY garbage", {}, ["not a readable .npy", "numpy.save"]),
    ("corrupt.npz", b"PK\x03\x04 broken zip", {}, ["not a readable .npz"]),
    ("text.csv", "1,2,3\n4,x,6\n", {}, ["line 2, column 2", "'x'", "not a number"]),
    ("ragged.csv", "1,2,3\n4,5\n", {}, ["line 2 has 2 values", "3"]),
    ("gap.csv", "1,2,3\n4,,6\n", {}, ["line 2, column 2", "not a number"]),
    ("badheader.csv", "a,b,c\n1,2,3\n4,y,6\n", {}, ["after its header", "line 3, column 2"]),
    ("twoheaders.csv", "a,b\nc,d\n1,2\n", {}, ["after its header", "line 2, column 1"]),
    ("shortheader.csv", "a,b\n1,2,3\n4,5,6\n", {}, ["header line has 2 names", "3 values"]),
    ("nan.npy", np.array([[1.0, 2.0], [np.nan, 4.0]]), {}, ["pattern 0", "column 0", "NaN"]),
    ("inf.csv", "1,2\n3,inf\n", {"layout": "rows"}, ["pattern 1", "row 1", "NaN or inf"]),
    ("zero.npy", np.array([[1.0, 0.0], [2.0, 0.0]]), {}, ["pattern 1", "all zeros"]),
    ("few.npy", GOOD, {"n_patterns": 5}, ["holds 4 patterns", "n_patterns=5", "layout"]),
    ("nokey.npz", {"a": GOOD, "b": GOOD}, {}, ["holds a, b", "set key"]),
    ("wrongkey.npz", {"a": GOOD}, {"key": "memory"}, ["no array named 'memory'", "holds a"]),
    ("nothing.npz", {}, {}, ["holds no arrays"]),
    ("keyed.csv", "1,2\n3,4\n", {"key": "x"}, ["CSV", "remove key"]),
    ("keyed.npy", GOOD, {"key": "x"}, ["one array", "remove key"]),
    ("shape.npy", GOOD, {"image_shape": [2, 2]}, ["image_shape [2, 2]", "d = 3"]),
]


@pytest.mark.parametrize(
    ("name", "content", "extra", "words"), BAD_ARRAYS, ids=[row[0] for row in BAD_ARRAYS]
)
def test_array_bad_files_name_the_file_and_the_problem(tmp_path, name, content, extra, words):
    path = tmp_path / name if content is None else _write(tmp_path, name, content)
    params = {"path": str(path), "layout": "columns", **extra}
    with pytest.raises(base.DomainError) as error:
        array.build_memory(params)
    message = str(error.value)
    assert str(path) in message
    assert "\n" not in message
    for word in words:
        assert word in message


def test_array_bad_layout_is_refused(tmp_path):
    path = _write(tmp_path, "x.npy", GOOD)
    with pytest.raises(base.DomainError, match=r"layout must be columns .* got 'cols'"):
        array.build_memory({"path": str(path), "layout": "cols"})


def test_array_bad_values_beyond_k_are_ignored(tmp_path):
    values = np.array([[1.0, 2.0, np.nan], [3.0, 4.0, 0.0]])
    path = _write(tmp_path, "x.npy", values)
    memory = array.build_memory({"path": str(path), "layout": "columns", "n_patterns": 2})
    np.testing.assert_allclose(memory.patterns, unit(values[:, :2]))


# ------------------------------------------------------------------------------ images


def png_bytes(image: Image.Image, fmt: str = "PNG") -> bytes:
    import io

    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def grey() -> np.ndarray:
    """A (6, 5) uint8 test picture with a gradient and a bright spot."""
    picture = (np.add.outer(np.arange(6) * 30, np.arange(5) * 10) + 20).astype(np.uint8)
    picture[2, 3] = 250
    return picture


@pytest.fixture
def folder(tmp_path, grey) -> Path:
    """Image files of every common mode, names chosen so sorted order ≠ writing order."""
    folder = tmp_path / "pictures"
    folder.mkdir()
    rgb = np.stack([grey, grey // 2, 255 - grey], axis=-1)
    rgba = np.concatenate([rgb, np.full((*grey.shape, 1), 40, np.uint8)], axis=-1)
    Image.fromarray(grey, "L").save(folder / "c_grey.png")
    Image.fromarray(rgb, "RGB").save(folder / "a_rgb.png")
    Image.fromarray(rgba, "RGBA").save(folder / "b_rgba.PNG")
    Image.fromarray(grey.astype(np.uint16) * 257).save(folder / "d_grey16.png")  # I;16
    Image.fromarray(rgb, "RGB").save(folder / "e_rgb.jpg", quality=100)
    Image.fromarray(np.kron(grey, np.ones((2, 2), np.uint8)), "L").save(folder / "f_big.png")
    (folder / "notes.txt").write_text("not an image")
    (folder / ".hidden.png").write_bytes(b"ignored")
    (folder / "sub").mkdir()
    return folder


def test_images_folder_modes_order_and_metadata(folder, grey):
    size = list(grey.shape)
    memory = images.build_memory({"path": str(folder), "size": size, "n_patterns": 5})
    rgb = np.stack([grey, grey // 2, 255 - grey], axis=-1)
    as_grey = rgb2gray(rgb)
    expected = unit(
        np.stack([as_grey, as_grey, grey / 255.0, grey / 255.0], axis=-1).reshape(-1, 4)
    )
    # a_rgb, b_rgba (alpha dropped), c_grey, d_grey16: exact at their own size
    np.testing.assert_allclose(memory.patterns[:, :4], expected, atol=1e-12)
    # e_rgb.jpg is lossy: close to the PNG
    assert memory.patterns[:, 4] @ memory.patterns[:, 0] > 0.999
    meta = memory.metadata
    assert [f["name"] for f in meta["files"]] == [
        "a_rgb.png",
        "b_rgba.PNG",
        "c_grey.png",
        "d_grey16.png",
        "e_rgb.jpg",
    ]
    assert [f["mode"] for f in meta["files"]] == ["RGB", "RGBA", "L", "I;16", "RGB"]
    assert (
        meta["files"][2]["sha256"]
        == hashlib.sha256((folder / "c_grey.png").read_bytes()).hexdigest()
    )
    assert meta["original_sizes"] == [size] and meta["image_shape"] == size
    assert images.dataset_inputs({"path": str(folder)}) == {"folder": str(folder)}
    json.dumps(meta)
    panel = images.panel(memory.patterns[:, :3], memory)
    assert panel.kind == "image" and panel.images.shape == (3, *size)


def test_images_resized_with_anti_aliasing(folder, grey):
    memory = images.build_memory({"path": str(folder), "size": [3, 4]})
    assert memory.patterns.shape == (12, 6)
    big = np.kron(grey, np.ones((2, 2))) / 255.0
    expected = resize(big, (3, 4), anti_aliasing=True).ravel()
    np.testing.assert_allclose(memory.patterns[:, 5], expected / np.linalg.norm(expected))
    assert memory.metadata["original_sizes"] == [[6, 5], [12, 10]]


def test_images_palette_la_cmyk_and_bilevel_become_grey(tmp_path, grey):
    folder = tmp_path / "modes"
    folder.mkdir()
    Image.fromarray(grey, "L").convert("P").save(folder / "p.png")
    Image.fromarray(np.stack([grey, grey], -1), "LA").save(folder / "la.png")
    Image.fromarray(np.stack([grey] * 3, -1), "RGB").convert("CMYK").save(
        folder / "c.jpg", quality=100
    )
    Image.fromarray(grey > 100).save(folder / "z.png")  # mode "1"
    memory = images.build_memory({"path": str(folder), "size": list(grey.shape)})
    reference = grey.ravel() / np.linalg.norm(grey.ravel())
    cosines = reference @ memory.patterns
    assert np.all(cosines[:3] > 0.999), cosines  # c.jpg, la.png, p.png
    assert memory.metadata["files"][3]["mode"] == "1"


def _corrupt(folder: Path) -> Path:
    (folder / "b_rgba.PNG").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    return folder / "b_rgba.PNG"


def _lab(folder: Path) -> Path:
    Image.new("LAB", (4, 4)).save(folder / "a_lab.png", format="TIFF")  # LAB named .png
    return folder / "a_lab.png"


def _truncated(folder: Path) -> Path:
    data = (folder / "f_big.png").read_bytes()
    (folder / "a_cut.png").write_bytes(data[: len(data) // 2])
    return folder / "a_cut.png"


@pytest.mark.parametrize(
    ("make", "extra", "words"),
    [
        (_corrupt, {}, ["unreadable or corrupt", "replace or remove"]),
        (_truncated, {}, ["unreadable or corrupt"]),
        (_lab, {}, ["mode 'LAB'", "cannot be converted to grayscale"]),
        (lambda f: f, {"n_patterns": 7}, ["holds 6 images", "n_patterns=7", "lower"]),
        (lambda f: f / "missing", {}, ["does not exist", "working directory"]),
        (lambda f: f / "sub", {}, ["holds no images", "*.png"]),
        (lambda f: f / "notes.txt", {}, ["is not a folder"]),
    ],
    ids=["corrupt", "truncated", "lab-mode", "too-few", "missing", "empty", "file"],
)
def test_images_bad_input_names_the_file_and_the_problem(folder, make, extra, words):
    target = make(folder)
    path = target if target.suffix != ".png" and target.suffix != ".PNG" else folder
    params = {"path": str(path), "size": [4, 4], **extra}
    with pytest.raises(base.DomainError) as error:
        images.build_memory(params)
    message = str(error.value)
    assert str(target) in message
    assert "\n" not in message
    for word in words:
        assert word in message


@pytest.mark.parametrize("size", [[4], [0, 4], "64x64", [4.5, 4], None, [True, 4]])
def test_images_bad_size(folder, size):
    with pytest.raises(base.DomainError, match="size must be"):
        images.build_memory({"path": str(folder), "size": size})


# ------------------------------------------------------------------------------ faces


@pytest.fixture(scope="module")
def offline_raw(tmp_path_factory) -> tuple[Path, dict]:
    raw = tmp_path_factory.mktemp("faces") / "faces.npz"
    return raw, faces.fetch(None, raw)


def test_faces_offline_memory(offline_raw):
    from skimage import data

    raw, provenance = offline_raw
    assert provenance["count"] == 100 and provenance["original_sizes"] == [[25, 25]]
    assert provenance["package"] == "scikit-image" and provenance["n_available"] == 200
    json.dumps(provenance)
    memory = faces.build_memory({"size": [64, 64], "n_patterns": 100}, raw)
    assert memory.patterns.shape == (4096, 100)
    np.testing.assert_allclose(np.linalg.norm(memory.patterns, axis=0), 1.0, atol=1e-12)
    assert memory.metadata["original_sizes"] == [[25, 25]]
    assert memory.metadata["image_shape"] == [64, 64]
    first = resize(
        data.lfw_subset()[0].astype(np.float32).astype(np.float64), (64, 64), anti_aliasing=True
    ).ravel()
    np.testing.assert_allclose(memory.patterns[:, 0], first / np.linalg.norm(first), atol=1e-12)
    panel = faces.panel(memory.patterns[:, :16], memory)
    assert panel.kind == "image" and panel.images.shape == (16, 64, 64)


def test_faces_defaults_and_too_many(offline_raw):
    raw, _ = offline_raw
    memory = faces.build_memory({}, raw)
    assert memory.patterns.shape == (4096, 100)
    with pytest.raises(base.DomainError, match=r"holds 100 faces, fewer than n_patterns=101"):
        faces.build_memory({"n_patterns": 101}, raw)


def test_faces_folder_source_matches_the_images_domain(folder, tmp_path):
    raw = tmp_path / "faces.npz"
    provenance = faces.fetch({"kind": "folder", "path": str(folder)}, raw)
    assert provenance["count"] == 6
    assert provenance["original_sizes"] == [[6, 5], [12, 10]]
    assert provenance["files"][0]["name"] == "a_rgb.png"
    params = {"size": [8, 8], "n_patterns": 6}
    from_faces = faces.build_memory(params, raw)
    from_images = images.build_memory({"path": str(folder), **params})
    # the raw file stores float32 grey values: equal to float32 precision
    np.testing.assert_allclose(from_faces.patterns, from_images.patterns, atol=1e-6)
    assert from_faces.metadata["original_sizes"] == [[6, 5], [12, 10]]


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ({"kind": "folder"}, ["needs path"]),
        ({"kind": "url"}, ["unknown source kind 'url'"]),
        (
            {"kind": "folder", "path": "/nonexistent/faces"},
            ["/nonexistent/faces", "does not exist"],
        ),
    ],
)
def test_faces_bad_sources(tmp_path, source, words):
    with pytest.raises(base.DomainError) as error:
        faces.fetch(source, tmp_path / "raw.npz")
    for word in words:
        assert word in str(error.value)
    assert not (tmp_path / "raw.npz").exists()


# ------------------------------------------------------------------------------ helpers


def test_states_to_images_checks_the_shape():
    states = np.arange(12.0).reshape(6, 2)
    np.testing.assert_array_equal(
        _imaging.states_to_images(states, (2, 3))[1], states[:, 1].reshape(2, 3)
    )
    with pytest.raises(ValueError, match="cannot be shown as 4×4"):
        _imaging.states_to_images(states, (4, 4))
    assert _imaging.square_shape(784) == (28, 28) and _imaging.square_shape(6) is None
