"""tapegrad.random: Generator, seeds, RNG state, generator= on every random op, and the
sampling ops (randperm, randint_like, bernoulli, multinomial, random_)."""

import numpy as np
import pytest

import tapegrad as torch
from tapegrad import creation


def _draws(generator=None):
    """One value of every random op, as lists (to compare streams)."""
    g = {"generator": generator}
    out = [torch.rand(3, **g), torch.randn(2, 2, **g), torch.randint(0, 10, (4,), **g),
           torch.randperm(6, **g), torch.normal(0.0, 2.0, (3,), **g),
           torch.normal(torch.zeros(2), torch.ones(2), **g),
           torch.rand_like(torch.zeros(2), **g), torch.randn_like(torch.zeros(2), **g),
           torch.randint_like(torch.zeros(3), 5, **g), torch.empty(3).normal_(**g),
           torch.empty(3).uniform_(-1, 1, **g), torch.bernoulli(torch.full((4,), 0.5), **g),
           torch.multinomial(torch.tensor([1.0, 2.0, 3.0]), 2, **g),
           torch.empty(3).bernoulli_(0.3, **g), torch.empty(3).random_(0, 7, **g)]
    return [t.tolist() for t in out]


def test_manual_seed_reproduces_every_op():
    g0 = torch.manual_seed(123)
    a = _draws()
    assert torch.manual_seed(123) is g0 is torch.default_generator
    assert _draws() == a
    torch.manual_seed(124)
    assert _draws() != a


def test_explicit_generator_is_its_own_stream():
    g = torch.Generator().manual_seed(5)
    a = _draws(g)
    torch.manual_seed(0)
    torch.rand(10)  # the default stream moving does not touch g's
    g.manual_seed(5)
    assert _draws(g) == a
    torch.manual_seed(5)  # the same seed on the default generator: the same stream
    assert _draws() == a


def test_generator_seeds_and_initial_seed():
    g = torch.Generator()
    assert g.initial_seed() == 67280421310721 and g.device == "cpu"
    assert g.manual_seed(7) is g and g.initial_seed() == 7
    assert g.manual_seed(-1).initial_seed() == 2 ** 64 - 1  # negatives wrap, as PyTorch's
    s = g.seed()
    assert g.initial_seed() == s and 0 <= s < 2 ** 64
    torch.manual_seed(42)
    assert torch.initial_seed() == 42
    assert torch.manual_seed(3.7).initial_seed() == 3  # manual_seed(float) takes int()
    s = torch.seed()
    assert torch.initial_seed() == s
    with pytest.raises(ValueError, match="out of range"):
        g.manual_seed(2 ** 64)
    with pytest.raises(RuntimeError, match="manual_seed expected a long, but got float"):
        g.manual_seed(1.5)
    with pytest.raises(RuntimeError, match="only the CPU device"):
        torch.Generator("cuda")


def test_default_generator_starts_random():
    """A new process's default generator gets an entropy seed, as PyTorch's does."""
    import subprocess
    import sys
    code = "import tapegrad; print(tapegrad.initial_seed())"
    seeds = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout for _ in range(2)}
    assert len(seeds) == 2


def test_get_set_state_round_trip():
    g = torch.Generator().manual_seed(11)
    torch.rand(5, generator=g)
    st = g.get_state()
    assert st.dtype == torch.int64 and st.shape == (8,)
    a = torch.randn(10, generator=g).tolist()
    g.manual_seed(99)
    g.set_state(st)
    assert torch.randn(10, generator=g).tolist() == a
    assert g.initial_seed() == 11
    assert g.clone_state().initial_seed() == 11
    c = g.clone_state()
    assert torch.rand(4, generator=c).tolist() == torch.rand(4, generator=g).tolist()
    # the global form
    torch.manual_seed(3)
    s = torch.get_rng_state()
    x = torch.rand(4).tolist()
    torch.set_rng_state(s)
    assert torch.rand(4).tolist() == x


def test_state_survives_a_half_used_32_bit_draw():
    """PCG64 buffers half a 64-bit word for 32-bit draws: the state keeps it."""
    g = torch.Generator().manual_seed(1)
    creation._gen(g).integers(0, 10, dtype=np.int32)  # leaves a buffered uint32
    st = g.get_state()
    a = creation._gen(g).integers(0, 2 ** 31, 5, dtype=np.int32).tolist()
    g.set_state(st)
    assert creation._gen(g).integers(0, 2 ** 31, 5, dtype=np.int32).tolist() == a


def test_set_state_refuses_bad_states():
    g = torch.Generator()
    with pytest.raises(TypeError, match="int64 tensor"):
        g.set_state([1, 2, 3])
    with pytest.raises(RuntimeError, match=r"shape \[8\].*float32 of shape \[3\]"):
        g.set_state(torch.zeros(3))
    with pytest.raises(RuntimeError, match="not an RNG state"):
        g.set_state(torch.zeros(8, dtype=torch.int64))
    with pytest.raises(TypeError, match="tapegrad.Generator"):
        torch.rand(2, generator=np.random.default_rng(0))


def test_fork_rng_restores_the_default_stream():
    torch.manual_seed(8)
    with torch.random.fork_rng():
        torch.rand(100)
    a = torch.rand(3).tolist()
    torch.manual_seed(8)
    assert torch.rand(3).tolist() == a


def test_module_rng_cell_follows_manual_seed():
    """Code that draws from creation._rng[0] (dropout, init) follows manual_seed, even when
    it holds the NumPy generator across a reseed."""
    held = creation._rng[0]
    torch.manual_seed(4)
    a = held.random(3).tolist()
    torch.manual_seed(4)
    assert creation._rng[0].random(3).tolist() == a
    assert creation._rng is torch.default_generator._cell


def test_distributions_and_ranges():
    g = torch.Generator().manual_seed(0)
    u = torch.rand(100_000, generator=g)
    assert u.dtype == torch.float32 and 0.0 <= u.min().item() and u.max().item() < 1.0
    assert abs(u.mean().item() - 0.5) < 0.01
    z = torch.randn(100_000, dtype=torch.float64, generator=g)
    assert z.dtype == torch.float64
    assert abs(z.mean().item()) < 0.02 and abs(z.std().item() - 1) < 0.02
    n = torch.normal(3.0, 0.5, (50_000,), generator=g)
    assert abs(n.mean().item() - 3.0) < 0.02 and abs(n.std().item() - 0.5) < 0.01
    m = torch.normal(torch.tensor([0.0, 100.0]), torch.tensor([0.0, 0.0]))
    assert m.tolist() == [0.0, 100.0] and m.dtype == torch.float32
    w = torch.empty(20_000).uniform_(-2, 3, generator=g)
    assert -2 <= w.min().item() and w.max().item() < 3
    # U[a, b) stays half-open when float32 rounding would reach b
    tiny = torch.empty(10_000).uniform_(1.0, 1.0 + 1e-7, generator=g)
    assert tiny.max().item() < 1.0 + 1e-7
    r = torch.randint(3, 10, (10_000,), generator=g)
    assert r.dtype == torch.int64 and set(r.tolist()) == set(range(3, 10))
    assert torch.randint(10, (2, 3)).shape == (2, 3)
    assert torch.randint(low=2, high=4, size=(5,)).min().item() >= 2
    assert torch.randint(0, 5, (3,), dtype=torch.float32).dtype == torch.float32
    p = torch.randperm(50, generator=g)
    assert sorted(p.tolist()) == list(range(50)) and p.dtype == torch.int64
    assert torch.randperm(4, dtype=torch.float64).dtype == torch.float64
    assert torch.randperm(0).tolist() == []
    ri = torch.randint_like(torch.zeros(2, 2, dtype=torch.int32), 2, 4)
    assert ri.dtype == torch.int32 and ri.shape == (2, 2) and set(ri.flatten().tolist()) <= {2, 3}
    assert torch.rand_like(torch.zeros(2, dtype=torch.float64)).dtype == torch.float64
    assert torch.rand(2, 3, requires_grad=True).requires_grad


def test_random_op_errors():
    with pytest.raises(NotImplementedError, match="rand.*int64"):
        torch.rand(2, dtype=torch.int64)
    with pytest.raises(NotImplementedError, match="randn.*int64"):
        torch.randn(2, dtype=torch.int64)
    with pytest.raises(RuntimeError, match="from=5 >= to=5"):
        torch.randint(5, 5, (2,))
    with pytest.raises(TypeError, match="randint"):
        torch.randint(5)
    with pytest.raises(TypeError, match="size argument is required"):
        torch.normal(0.0, 1.0)
    with pytest.raises(RuntimeError, match="std >= 0.0, but found std -1"):
        torch.normal(0.0, -1.0, (2,))
    with pytest.raises(RuntimeError, match="std >= 0.0"):
        torch.empty(2).normal_(0.0, -1.0)
    with pytest.raises(RuntimeError, match=r"\[from, to\) range.*from=1 > to=0"):
        torch.empty(2).uniform_(1, 0)
    with pytest.raises(RuntimeError, match="negative dimension -1"):
        torch.randperm(-1)
    with pytest.raises(NotImplementedError, match="normal_"):
        torch.zeros(2, dtype=torch.int64).normal_()
    leaf = torch.ones(3, requires_grad=True)
    for fill in (lambda: leaf.normal_(), lambda: leaf.bernoulli_(), lambda: leaf.random_(3)):
        state = torch.get_rng_state()
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            fill()
        assert torch.get_rng_state().tolist() == state.tolist()  # nothing was drawn


def test_bernoulli():
    g = torch.Generator().manual_seed(2)
    p = torch.tensor([0.0, 1.0, 0.25])
    draws = torch.stack([torch.bernoulli(p, generator=g) for _ in range(4000)])
    assert draws.dtype == torch.float32 and set(draws.flatten().tolist()) <= {0.0, 1.0}
    means = draws.mean(0).tolist()
    assert means[0] == 0.0 and means[1] == 1.0 and abs(means[2] - 0.25) < 0.03
    assert torch.bernoulli(torch.zeros(3), 1.0).tolist() == [1.0, 1.0, 1.0]
    assert p.bernoulli(generator=g).shape == (3,)
    x = torch.zeros(1000, dtype=torch.int64)
    assert x.bernoulli_(0.5) is x and set(x.tolist()) == {0, 1} and x.dtype == torch.int64
    with pytest.raises(RuntimeError, match="0 <= p <= 1"):
        torch.bernoulli(torch.tensor([1.5]))
    with pytest.raises(RuntimeError, match="0 <= p <= 1"):
        torch.zeros(2).bernoulli_(-0.1)


def test_bernoulli_on_history_gives_zero_gradient():
    """bernoulli_ on a recorded tensor: its new value does not depend on the old one."""
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    y = w * 3
    y.bernoulli_(0.5)
    (y * 2).sum().backward()
    assert w.grad.tolist() == [0.0, 0.0]


def test_multinomial():
    g = torch.Generator().manual_seed(3)
    w = torch.tensor([1.0, 0.0, 3.0])
    s = torch.multinomial(w, 10_000, replacement=True, generator=g)
    assert s.dtype == torch.int64 and s.shape == (10_000,)
    counts = np.bincount(s.numpy(), minlength=3)
    assert counts[1] == 0 and abs(counts[2] / 10_000 - 0.75) < 0.02
    no_rep = torch.multinomial(torch.tensor([[1.0, 2.0, 3.0, 4.0]] * 3), 4, generator=g)
    assert no_rep.shape == (3, 4)
    assert all(sorted(r) == [0, 1, 2, 3] for r in no_rep.tolist())
    # without replacement, a category of weight 0 comes only after every positive one
    for _ in range(20):
        assert torch.multinomial(torch.tensor([0.0, 5.0, 1.0]), 2).tolist() in ([1, 2], [2, 1])
    # the first pick without replacement follows the weights
    firsts = [torch.multinomial(w, 1, generator=g).item() for _ in range(2000)]
    assert abs(firsts.count(2) / 2000 - 0.75) < 0.04 and 1 not in firsts
    assert w.multinomial(2, generator=g).shape == (2,)
    with pytest.raises(RuntimeError, match="n_sample > prob_dist.size"):
        torch.multinomial(w, 4)
    with pytest.raises(RuntimeError, match="n_sample <= 0"):
        torch.multinomial(w, 0)
    with pytest.raises(RuntimeError, match="element < 0"):
        torch.multinomial(torch.tensor([1.0, -1.0]), 1)
    with pytest.raises(RuntimeError, match="sum of probabilities <= 0"):
        torch.multinomial(torch.zeros(3), 1)
    with pytest.raises(RuntimeError, match="1 or 2 dim"):
        torch.multinomial(torch.ones(2, 2, 2), 1)
    with pytest.raises(RuntimeError, match="floating-point"):
        torch.multinomial(torch.tensor([1, 2]), 1)


def test_random_():
    g = torch.Generator().manual_seed(4)
    x = torch.zeros(5000)
    assert x.random_(0, 5, generator=g) is x and set(x.tolist()) == {0, 1, 2, 3, 4}
    assert set(torch.zeros(500, dtype=torch.int64).random_(3).tolist()) == {0, 1, 2}
    big = torch.zeros(1000).random_()
    assert big.min().item() >= 0 and big.max().item() <= 2 ** 24 and big.max().item() > 1000
    assert set(torch.zeros(200, dtype=torch.int64).random_(to=2).tolist()) == {0, 1}
    with pytest.raises(RuntimeError, match="from=3 >= to=3"):
        torch.zeros(2).random_(3, 3)


@pytest.mark.torch
def test_signatures_match_pytorch():
    """The random ops take PyTorch's arguments (the streams differ: see tapegrad.random)."""
    torch_ref = pytest.importorskip("torch")
    for lib in (torch, torch_ref):
        g = lib.Generator().manual_seed(0)
        assert g.initial_seed() == 0
        assert lib.Generator().initial_seed() == 67280421310721
        assert lib.randint(10, (2, 3), generator=g).shape == (2, 3)
        assert lib.randint(3, 10, (4,)).dtype == lib.int64
        assert lib.randperm(5, generator=g).dtype == lib.int64
        assert lib.randint_like(lib.zeros(2), 3, 5).dtype == lib.float32
        assert lib.normal(lib.zeros(3), 1.0, generator=g).shape == (3,)
        assert lib.multinomial(lib.tensor([1.0, 2.0]), 2).dtype == lib.int64
        assert lib.bernoulli(lib.tensor([0.5, 0.5]), generator=g).dtype == lib.float32
        assert lib.zeros(3).bernoulli_(0.5, generator=g).shape == (3,)
        assert lib.zeros(3, dtype=lib.int64).random_(5, generator=g).dtype == lib.int64
        assert lib.manual_seed(-1).initial_seed() == 2 ** 64 - 1
    for fn, exc in ((lambda lib: lib.randint(5, 5, (2,)), RuntimeError),
                    (lambda lib: lib.normal(0.0, 1.0), TypeError),
                    (lambda lib: lib.multinomial(lib.tensor([1.0, 2.0]), 3), RuntimeError),
                    (lambda lib: lib.rand(2, dtype=lib.int64), NotImplementedError),
                    (lambda lib: lib.Generator().manual_seed(2 ** 64), ValueError)):
        for lib in (torch, torch_ref):
            with pytest.raises(exc):
                fn(lib)
