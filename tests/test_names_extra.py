"""tapegrad.compile, Tensor.apply_, the pinned-memory methods and DistributedSampler, as
PyTorch programs use them."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.utils.data import DataLoader, DistributedSampler, TensorDataset


def test_compile_returns_the_model_or_a_decorator_and_changes_nothing():
    net = tg.nn.Linear(3, 2)
    assert tg.compile(net) is net
    assert tg.compile(net, mode="reduce-overhead", fullgraph=True) is net

    @tg.compile()
    def f(x):
        return (x * x).sum()
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    f(x).backward()
    assert x.grad.tolist() == [2.0, 4.0]


def test_apply_replaces_each_element_in_place_and_refuses_a_tensor_that_requires_grad():
    u = tg.tensor([1.0, 2.0, 3.0])
    assert u.apply_(lambda v: v * 2 + 1) is u and u.tolist() == [3.0, 5.0, 7.0]
    w = tg.tensor([[1, 2], [3, 4]])
    w.apply_(lambda v: v * 10)
    assert w.tolist() == [[10, 20], [30, 40]] and w.dtype == tg.int64
    v = w[0]  # a view sees the write, as the base sees a write through the view
    v.apply_(lambda e: -e)
    assert w.tolist() == [[-10, -20], [30, 40]]
    p = tg.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="apply_\\(\\) on Variable that requires grad"):
        p.apply_(lambda e: e)
    assert p.detach().apply_(lambda e: e + 1).tolist() == [2.0]


def test_pinned_memory_is_not_there_on_a_cpu_only_machine():
    t = tg.tensor([1.0])
    assert t.is_pinned() is False
    with pytest.raises(RuntimeError, match="accelerator"):
        t.pin_memory()


def _parts(n, replicas, **kw):
    return [list(DistributedSampler(list(range(n)), replicas, r, **kw)) for r in range(replicas)]


def test_distributed_sampler_partitions_pads_and_drops_as_pytorch():
    assert _parts(10, 3, shuffle=False) == [[0, 3, 6, 9], [1, 4, 7, 0], [2, 5, 8, 1]]
    assert _parts(10, 3, shuffle=False, drop_last=True) == [[0, 3, 6], [1, 4, 7], [2, 5, 8]]
    assert _parts(2, 5, shuffle=False) == [[0], [1], [0], [1], [0]]  # padding wraps around
    s = DistributedSampler(list(range(10)), num_replicas=3, rank=1, shuffle=True, seed=7)
    first = list(s)
    assert list(s) == first and len(s) == 4
    s.set_epoch(1)
    assert list(s) != first  # a new order each epoch, the same on every replica
    parts = _parts(12, 4, seed=3)
    assert sorted(sum(parts, [])) == list(range(12))  # disjoint and complete
    with pytest.raises(ValueError, match="process group"):
        DistributedSampler(list(range(4)))
    with pytest.raises(ValueError, match="Invalid rank 3"):
        DistributedSampler(list(range(4)), num_replicas=3, rank=3)


def test_a_dataloader_reads_a_replicas_part():
    X = tg.arange(10.0).reshape(10, 1)
    loader = DataLoader(TensorDataset(X), batch_size=2,
                        sampler=DistributedSampler(TensorDataset(X), 2, 1, shuffle=False))
    assert [b[0].reshape(-1).tolist() for b in loader] == [[1.0, 3.0], [5.0, 7.0], [9.0]]


@pytest.mark.torch
def test_against_pytorch():
    torch = pytest.importorskip("torch")
    from torch.utils.data import DistributedSampler as TD

    for n, k, drop in [(10, 3, False), (10, 3, True), (7, 4, False), (2, 5, False)]:
        for r in range(k):
            want = list(TD(list(range(n)), k, r, shuffle=False, drop_last=drop))
            got = list(DistributedSampler(list(range(n)), k, r, shuffle=False, drop_last=drop))
            assert got == want, (n, k, r, drop)
            assert len(TD(list(range(n)), k, r, drop_last=drop)) == \
                len(DistributedSampler(list(range(n)), k, r, drop_last=drop))
    a = np.array([1.5, -2.0, 3.25])
    t_ref = torch.tensor(a).apply_(lambda v: v * v - 1)
    assert tg.tensor(a).apply_(lambda v: v * v - 1).tolist() == t_ref.tolist()
