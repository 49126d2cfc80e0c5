"""One engine, two array libraries: torch runs against NumPy runs of the same kernels.

Exact tests feed both libraries the same random numbers (float64, CPU: torch tensors with
the NumPy generator) and require agreement to 1e-10 over hundreds of steps. Statistical
tests run independent chains with torch's own draws and compare final-state means (energy,
max-cos) with NumPy runs within 4 combined standard errors (fails about 1 in 16 000 runs by
chance for a correct sampler; the seeds are fixed).
"""

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_limits

from stochastic_attention import backends, samplers
from stochastic_attention import energy as en


@pytest.fixture(autouse=True)
def one_thread():
    """One BLAS and one torch thread: small matrices, and no oversubscription on busy hosts."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
    torch.set_num_threads(previous)


def unit_memory(d: int, k: int, seed: int) -> np.ndarray:
    memory = np.random.default_rng(seed).standard_normal((d, k))
    return memory / np.linalg.norm(memory, axis=0)


def as_tensor(values: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(values, dtype=np.float64))


# ------------------------------------------------------------------ kernels, identical draws


def test_ula_kernels_agree_over_many_steps_on_identical_noise():
    memory = unit_memory(20, 5, 0)
    rng = np.random.default_rng(1)
    beta = np.array([3.0, 10.0, 30.0, 100.0])  # one β per chain
    states_np = memory[:, [0, 1, 2, 3]] + 0.1 * rng.standard_normal((20, 4))
    states_t = as_tensor(states_np)
    for _ in range(500):
        noise = rng.standard_normal((20, 4))
        states_np = samplers.ula_step(memory, states_np, noise, beta, 0.05)
        states_t = samplers.ula_step(
            as_tensor(memory), states_t, as_tensor(noise), as_tensor(beta), 0.05
        )
    np.testing.assert_allclose(states_t.numpy(), states_np, rtol=0, atol=1e-10)


def test_mala_kernels_agree_over_many_steps_on_identical_draws():
    memory = unit_memory(12, 4, 2)
    rng = np.random.default_rng(3)
    beta, alpha = np.array([2.0, 8.0, 8.0, 40.0, 40.0]), 0.3  # large step: rejections happen
    states = memory[:, [0, 1, 2, 3, 0]] + 0.2 * rng.standard_normal((12, 5))
    state_np = samplers.mala_init(memory, states, beta, alpha)
    state_t = samplers.mala_init(as_tensor(memory), as_tensor(states), as_tensor(beta), alpha)
    accepted_np = 0
    for _ in range(400):
        noise, log_u = rng.standard_normal((12, 5)), np.log(rng.random(5))
        state_np, info_np = samplers.mala_step(memory, state_np, noise, log_u, beta, alpha)
        state_t, info_t = samplers.mala_step(
            as_tensor(memory), state_t, as_tensor(noise), as_tensor(log_u), as_tensor(beta), alpha
        )
        np.testing.assert_array_equal(info_t.accepted.numpy(), info_np.accepted)
        np.testing.assert_allclose(info_t.log_ratio.numpy(), info_np.log_ratio, atol=1e-8)
        accepted_np += info_np.accepted
    assert 0 < accepted_np.sum() < 400 * 5  # both outcomes were exercised
    for field in state_np._fields:
        np.testing.assert_allclose(
            getattr(state_t, field).numpy(), getattr(state_np, field), rtol=0, atol=1e-10
        )


def test_span_mala_kernels_agree_over_many_steps_on_identical_draws():
    """Batched (B = 2) span MALA: frame, log weight, drift and across on the same draws."""
    memory = np.stack([unit_memory(12, 4, 20), unit_memory(12, 4, 21)])
    basis, reduced = en.span_basis(memory)
    rng = np.random.default_rng(22)
    beta, alpha, m = np.array([2.0, 8.0, 40.0]), 0.3, 12 - 4
    states = memory[:, :, [0, 1, 2]] + 0.2 * rng.standard_normal((2, 12, 3))
    span = np.swapaxes(basis, -1, -2) @ states
    along = np.linalg.norm(states - basis @ span, axis=-2)
    memory_in_frame = samplers.frame_memory(reduced)
    frame = np.concatenate([span, along[:, None, :]], axis=-2)
    state_np = samplers.mala_span_init(memory_in_frame, frame, beta, alpha)
    state_t = samplers.mala_span_init(
        as_tensor(memory_in_frame), as_tensor(frame), as_tensor(beta), alpha
    )
    accepted_np = 0
    for _ in range(400):
        draws = (
            rng.standard_normal((2, 5, 3)),
            rng.standard_normal((2, 3)),
            rng.chisquare(m - 2, (2, 3)),
            np.log(rng.random((2, 3))),
        )
        state_np, info_np = samplers.mala_span_step(memory_in_frame, state_np, *draws, beta, alpha)
        state_t, info_t = samplers.mala_span_step(
            as_tensor(memory_in_frame), state_t, *map(as_tensor, draws), as_tensor(beta), alpha
        )
        np.testing.assert_array_equal(info_t.accepted.numpy(), info_np.accepted)
        np.testing.assert_allclose(info_t.log_ratio.numpy(), info_np.log_ratio, atol=1e-8)
        accepted_np += info_np.accepted
    assert 0 < accepted_np.sum() < 400 * 6
    for field in state_np._fields:
        np.testing.assert_allclose(
            getattr(state_t, field).numpy(), getattr(state_np, field), rtol=0, atol=1e-10
        )


def test_nan_log_ratio_is_a_rejection():
    memory = as_tensor(np.eye(2))
    state = samplers.mala_init(memory, as_tensor([[0.5], [0.0]]), 1.0, 0.1)
    noise = torch.tensor([[np.nan], [0.0]], dtype=torch.float64)
    new, info = samplers.mala_step(
        memory, state, noise, torch.tensor([-5.0], dtype=torch.float64), 1.0, 0.1
    )
    assert torch.isnan(info.log_ratio).all() and not info.accepted.any()
    assert torch.equal(new.states, state.states)


# -------------------------------------------------------------- whole runs, identical draws


def torch_run(memory, start, **arguments):
    """``samplers.run_chains`` on CPU torch tensors (the NumPy ``rng`` in ``arguments``)."""
    return samplers.run_chains(as_tensor(memory), as_tensor(start), **arguments)


@pytest.mark.parametrize(
    ("kernel", "reduce", "k"),
    [
        ("sa", True, 5),
        ("sa", False, 5),
        ("mala", True, 5),
        ("mala", False, 5),
        ("mala", True, 40),
        ("sa", True, 29),
        ("mala", True, 29),
    ],
)
def test_torch_with_numpy_draws_reproduces_the_numpy_run(kernel, reduce, k):
    """Same draws in the same order: one engine, two libraries, agreement to 1e-10.

    K = 5 < d exercises the span reduction (SA) and span MALA; ``reduce=False`` the literal
    updates; K = 40 ≥ d the full-rank path; K = 29 = d − 1 a one-dimensional complement (no
    lazy direction, no χ²). Records at uneven gaps exercise the closed-form AR(1) advance and
    the span-MALA materialisation.
    """
    d, n_chains = 30, 6
    memory = unit_memory(d, k, 4)
    rng = np.random.default_rng(5)
    start = memory[:, rng.integers(0, k, n_chains)] + 0.05 * rng.standard_normal((d, n_chains))
    arguments = {
        "kernel": kernel,
        "beta": np.geomspace(5, 500, n_chains),
        "alpha": 0.05,
        "record_steps": [1, 99, 100, 101, 250, 777],
        "reduce": reduce,
    }
    reference = samplers.run_chains(memory, start, rng=np.random.default_rng(6), **arguments)
    run = torch_run(memory, start, rng=np.random.default_rng(6), **arguments)
    assert isinstance(run.records, torch.Tensor) and run.records.dtype == torch.float64
    np.testing.assert_allclose(run.records.numpy(), reference.records, rtol=0, atol=1e-10)
    np.testing.assert_array_equal(run.record_steps, reference.record_steps)
    if kernel == "mala":
        np.testing.assert_array_equal(run.acceptance.numpy(), reference.acceptance)
    else:
        assert run.acceptance is None


@pytest.mark.parametrize("kernel", ["sa", "mala"])
def test_torch_with_numpy_draws_reproduces_batched_and_float32_runs(kernel):
    """Batch axis (B = 2 memories) exactly; float32 to float32 rounding, in float32."""
    d, k, n_chains = 20, 4, 3
    memory = np.stack([unit_memory(d, k, 30), unit_memory(d, k, 31)])
    start = memory[:, :, :n_chains] + 0.05 * np.random.default_rng(32).standard_normal(
        (2, d, n_chains)
    )
    arguments = {"kernel": kernel, "beta": [5.0, 50.0, 500.0], "alpha": 0.05}
    arguments |= {"record_steps": [3, 150, 240]}
    reference = samplers.run_chains(memory, start, rng=np.random.default_rng(33), **arguments)
    run = torch_run(memory, start, rng=np.random.default_rng(33), **arguments)
    np.testing.assert_allclose(run.records.numpy(), reference.records, rtol=0, atol=1e-10)
    assert run.records.shape == (3, 2, d, n_chains)
    if kernel == "mala":
        np.testing.assert_array_equal(run.acceptance.numpy(), reference.acceptance)
    arguments["record_steps"] = [3, 40]  # short: float32 paths separate slowly through rounding
    single = {"rng": np.random.default_rng(34), "dtype": "float32"}
    reference = samplers.run_chains(memory[0], start[0], **arguments | single)
    single["rng"] = np.random.default_rng(34)
    run = torch_run(memory[0], start[0], **arguments | single)
    assert run.records.dtype == torch.float32 and reference.records.dtype == np.float32
    np.testing.assert_allclose(run.records.numpy(), reference.records, rtol=0, atol=1e-4)


def test_dtype_and_device_follow_the_input():
    """float32 tensors run in float32 without ``dtype``; ``dtype`` converts; NumPy likewise."""
    memory = unit_memory(10, 3, 15)
    arguments = {"kernel": "mala", "beta": 5.0, "alpha": 0.1, "record_steps": [10]}
    single = torch.from_numpy(memory.astype(np.float32))
    run = samplers.run_chains(single, single, rng=np.random.default_rng(0), **arguments)
    assert run.records.dtype == torch.float32 and run.records.device == single.device
    assert run.acceptance.dtype == torch.float64
    run = samplers.run_chains(
        single, single, rng=np.random.default_rng(0), dtype="float64", **arguments
    )
    assert run.records.dtype == torch.float64
    run = samplers.run_chains(
        memory.astype(np.float32), memory, rng=np.random.default_rng(0), **arguments
    )
    assert isinstance(run.records, np.ndarray) and run.records.dtype == np.float32
    with pytest.raises(TypeError, match=r"[Mm]ultiple namespaces"):
        samplers.run_chains(single, memory, rng=np.random.default_rng(0), **arguments)


# ---------------------------------------------------------------- torch draws: same law


def final_summary(run, memory, beta):
    """Mean and SE over i.i.d. chains of the final energy and max-cos."""
    final = run.records[-1]
    energy = en.energy(memory, final, beta)
    max_cos = (memory.T @ (final / np.linalg.norm(final, axis=0))).max(axis=0)
    n = final.shape[1]
    return {
        name: (values.mean(), values.std(ddof=1) / np.sqrt(n))
        for name, values in (("energy", energy), ("max_cos", max_cos))
    }


@pytest.mark.parametrize(
    ("kernel", "reduce", "dtype"),
    [
        ("sa", True, "float64"),
        ("mala", True, "float64"),
        ("mala", False, "float64"),
        ("sa", True, "float32"),
        ("mala", True, "float32"),
    ],
)
def test_torch_draws_sample_the_same_law_as_numpy(kernel, reduce, dtype):
    """4-SE agreement of mean energy and max-cos over 2000 independent chains.

    β = 60 on K = 5 unit patterns in d = 30 sits between retrieval and mixing, so both
    statistics are sensitive to the drift and noise terms.
    """
    d, k, n_chains, beta, alpha = 30, 5, 2000, 60.0, 0.05
    memory = unit_memory(d, k, 7)
    start = np.repeat(memory, n_chains // k, axis=1)
    arguments = {"kernel": kernel, "beta": beta, "alpha": alpha, "record_steps": [150, 300]}
    arguments["reduce"] = reduce
    reference = samplers.run_chains(memory, start, rng=np.random.default_rng(8), **arguments)
    on_torch = backends.run_chains(
        memory, start, rng=np.random.default_rng(9), backend="torch", device="cpu",
        dtype=dtype, **arguments,
    )  # fmt: skip
    ours, theirs = final_summary(on_torch, memory, beta), final_summary(reference, memory, beta)
    for name in ours:
        (mean_t, se_t), (mean_n, se_n) = ours[name], theirs[name]
        assert abs(mean_t - mean_n) < 4 * np.hypot(se_t, se_n), (name, ours, theirs)
    if kernel == "mala":
        assert abs(on_torch.acceptance.mean() - reference.acceptance.mean()) < 0.01


@pytest.mark.parametrize(
    ("kernel", "variance"),
    [
        ("sa", lambda alpha, beta: (2 * alpha / beta) / (1 - (1 - alpha) ** 2)),
        ("mala", lambda alpha, beta: 1 / beta),
    ],
)
def test_torch_reduced_orthogonal_part_has_the_exact_stationary_variance(kernel, variance):
    """‖P⊥ ξ‖² / v ~ χ²(d − r) at stationarity on torch's own draws (incl. its χ² draws).

    SA: the AR(1) variance v = (2α/β) / (1 − (1−α)²); MALA: the target's v = 1/β.
    """
    d, k, n_chains, beta, alpha = 30, 5, 2000, 60.0, 0.05
    memory = unit_memory(d, k, 10)
    run = backends.run_chains(
        memory,
        np.repeat(memory, n_chains // k, axis=1),
        kernel=kernel,
        beta=beta,
        alpha=alpha,
        rng=np.random.default_rng(11),
        record_steps=[50, 400],  # (1−α)^350 ≈ 2e-8 (MALA: ~0.9 accepted): the start is forgotten
        backend="torch",
        device="cpu",
    )
    basis = np.linalg.qr(memory)[0]
    orthogonal = run.records[-1] - basis @ (basis.T @ run.records[-1])
    scaled = np.sum(orthogonal**2, axis=0) / variance(alpha, beta)
    standard_error = np.sqrt(2 * (d - k) / n_chains)
    assert abs(scaled.mean() - (d - k)) < 4 * standard_error


# ----------------------------------------------------------------------- driver behaviour


def test_same_seed_same_numbers_and_other_seed_other_numbers():
    memory = unit_memory(16, 4, 12)
    arguments = {"kernel": "mala", "beta": 20.0, "alpha": 0.1, "record_steps": [50, 120]}
    runs = [
        backends.run_chains(
            memory, memory, rng=np.random.default_rng(seed), backend="torch", device="cpu",
            **arguments,
        )
        for seed in (1, 1, 2)
    ]
    np.testing.assert_array_equal(runs[0].records, runs[1].records)
    assert not np.array_equal(runs[0].records, runs[2].records)
    generator = torch.Generator().manual_seed(3)
    explicit = torch_run(memory, memory, rng=generator, **arguments)
    assert explicit.records.shape == (2, 16, 4) and explicit.records.dtype == torch.float64
    again = torch_run(memory, memory, rng=torch.Generator().manual_seed(3), **arguments)
    assert torch.equal(explicit.records, again.records)


@pytest.mark.parametrize("kernel", ["sa", "mala"])
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_diverging_chain_names_chain_step_alpha_and_beta(kernel):
    """Checked once per block: the replay with the same draws still names step 1 and chain 1."""
    memory = np.array([[1e200, 0.0], [0.0, 1.0]])
    states = np.array([[0.0, 1e200], [1.0, 0.0]])
    for library in ("numpy", "torch"):
        with pytest.raises(samplers.SamplerDivergedError, match=r"chain 1 .*step 1 .*alpha=0.1"):
            backends.run_chains(
                memory,
                states,
                kernel=kernel,
                beta=2.0,
                alpha=0.1,
                rng=np.random.default_rng(0),
                record_steps=[150],
                backend=library,
                device="cpu",
                reduce=False,
            )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"alpha": 1.0}, "alpha"),
        ({"beta": np.nan}, "beta"),
        ({"beta": np.ones(2)}, "one value per chain"),
        ({"kernel": "hmc"}, "kernel"),
        ({"device": "tpu"}, "device"),
        ({"dtype": "float16"}, "dtype"),
        ({"record_steps": [5, 5]}, "strictly increasing"),
    ],
)
def test_invalid_arguments_are_rejected(kwargs, message):
    arguments = {
        "kernel": "sa",
        "beta": 1.0,
        "alpha": 0.1,
        "rng": np.random.default_rng(0),
        "record_steps": [5],
        "backend": "torch",
        "device": "cpu",
    } | kwargs
    with pytest.raises(ValueError, match=message):
        backends.run_chains(np.eye(3), np.eye(3), **arguments)


@pytest.mark.parametrize(
    ("rng", "message"),
    [
        (None, "rng must be a numpy.random.Generator or a torch.Generator"),
        (np.random.default_rng(0).bit_generator, "rng must be"),
    ],
)
def test_the_generator_must_be_numpy_or_torch(rng, message):
    with pytest.raises(ValueError, match=message):
        torch_run(np.eye(3), np.eye(3), kernel="sa", beta=1.0, alpha=0.1, rng=rng, record_steps=[5])
    with pytest.raises(ValueError, match=r"a torch\.Generator draws torch tensors"):
        samplers.run_chains(
            np.eye(3), np.eye(3), kernel="sa", beta=1.0, alpha=0.1, rng=torch.Generator(),
            record_steps=[5],
        )  # fmt: skip


def test_float32_range_and_cuda_without_gpu_are_explained():
    with np.errstate(over="ignore"), pytest.raises(ValueError, match="non-finite"):
        backends.run_chains(
            np.full((2, 1), 1e300),
            np.ones((2, 1)),
            kernel="sa",
            beta=1.0,
            alpha=0.1,
            rng=np.random.default_rng(0),
            record_steps=[1],
            backend="torch",
            device="cpu",
            dtype="float32",
        )
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert backends.resolve_device("auto").type == expected
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no GPU"):
            backends.resolve_device("cuda")


def test_dispatcher_numpy_path_is_samplers_and_torch_path_runs():
    memory = unit_memory(10, 3, 13)
    arguments = {"kernel": "sa", "beta": 5.0, "alpha": 0.1, "record_steps": [10, 20]}
    direct = samplers.run_chains(memory, memory, rng=np.random.default_rng(1), **arguments)
    via = backends.run_chains(memory, memory, rng=np.random.default_rng(1), **arguments)
    np.testing.assert_array_equal(via.records, direct.records)
    on_torch = backends.run_chains(
        memory, memory, rng=np.random.default_rng(1), backend="torch", device="cpu", **arguments
    )
    assert isinstance(on_torch.records, np.ndarray)
    assert on_torch.records.shape == direct.records.shape
    with pytest.raises(ValueError, match="needs backend: torch"):
        backends.check_backend("numpy", "cuda")
    assert backends.check_backend("numpy", "auto", "float32").dtype == "float32"
    direct = samplers.run_chains(
        memory, memory, rng=np.random.default_rng(2), dtype=np.float32, **arguments
    )
    via = backends.run_chains(
        memory, memory, rng=np.random.default_rng(2), dtype="float32", **arguments
    )
    assert via.records.dtype == np.float32
    np.testing.assert_array_equal(via.records, direct.records)
    with pytest.raises(ValueError, match="backend 'jax' is unknown"):
        backends.check_backend("jax")
