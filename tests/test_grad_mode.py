"""no_grad, enable_grad, set_grad_enabled, inference_mode and is_grad_enabled."""

import threading

import pytest

import tapegrad as torch


@pytest.fixture(autouse=True)
def grad_mode_restored():
    yield
    assert torch.is_grad_enabled(), "a test left grad mode disabled"
    assert not torch.is_inference_mode_enabled()


def x_():
    return torch.tensor([1.0, 2.0], requires_grad=True)


def test_default_enabled():
    assert torch.is_grad_enabled() and torch.autograd.is_grad_enabled()


def test_no_grad_context():
    x = x_()
    with torch.no_grad():
        assert not torch.is_grad_enabled()
        y = x * 2
    assert not y.requires_grad and y.grad_fn is None and y.is_leaf
    assert (x * 2).requires_grad


def test_no_grad_decorator_with_and_without_parentheses():
    x = x_()

    @torch.no_grad()
    def f(a):
        return a * 2, torch.is_grad_enabled()

    @torch.no_grad
    def g(a):
        return a * 3, torch.is_grad_enabled()

    for fn in (f, g):
        y, enabled = fn(x)
        assert not y.requires_grad and not enabled and torch.is_grad_enabled()
    assert f.__name__ == "f" and g.__name__ == "g"


def test_enable_grad_inside_no_grad():
    x = x_()
    with torch.no_grad():
        with torch.enable_grad():
            assert torch.is_grad_enabled()
            y = x * 2
        assert not torch.is_grad_enabled()
        z = x * 2
    assert y.requires_grad and not z.requires_grad


def test_enable_grad_decorator():
    x = x_()

    @torch.enable_grad()
    def f(a):
        return a * 2

    @torch.enable_grad
    def g(a):
        return a * 2

    with torch.no_grad():
        y, z = f(x), g(x)
        assert not torch.is_grad_enabled()
    assert y.requires_grad and z.requires_grad


def test_set_grad_enabled_as_function():
    x = x_()
    torch.set_grad_enabled(False)
    try:
        assert not torch.is_grad_enabled()
        assert not (x * 2).requires_grad
    finally:
        torch.set_grad_enabled(True)
    assert torch.is_grad_enabled() and (x * 2).requires_grad


def test_set_grad_enabled_as_context_manager():
    x = x_()
    with torch.set_grad_enabled(False):
        assert not torch.is_grad_enabled()
        y = x * 2
    assert torch.is_grad_enabled() and not y.requires_grad
    with torch.no_grad():
        with torch.set_grad_enabled(True):
            z = x * 2
        assert not torch.is_grad_enabled()
    assert z.requires_grad
    for mode in (True, False):
        with torch.set_grad_enabled(mode):
            assert torch.is_grad_enabled() is mode
            assert (x * 2).requires_grad is mode


def test_set_grad_enabled_as_decorator():
    x = x_()

    @torch.set_grad_enabled(False)
    def f(a):
        return a * 2, torch.is_grad_enabled()

    assert torch.is_grad_enabled()  # decorating does not switch the mode
    y, enabled = f(x)
    assert not y.requires_grad and not enabled and torch.is_grad_enabled()


def test_inference_mode():
    x = x_()
    with torch.inference_mode():
        assert not torch.is_grad_enabled() and torch.is_inference_mode_enabled()
        y = x * 2
    assert not y.requires_grad and y.is_leaf
    assert torch.is_grad_enabled() and not torch.is_inference_mode_enabled()


def test_inference_mode_decorator_forms():
    x = x_()

    @torch.inference_mode()
    def f(a):
        return a * 2

    @torch.inference_mode
    def g(a):
        return a * 2

    assert not f(x).requires_grad and not g(x).requires_grad


def test_inference_mode_false():
    x = x_()
    with torch.inference_mode(False):
        assert torch.is_grad_enabled() and not torch.is_inference_mode_enabled()
        assert (x * 2).requires_grad
    with torch.inference_mode():
        with torch.inference_mode(False):
            assert torch.is_grad_enabled() and not torch.is_inference_mode_enabled()
        assert not torch.is_grad_enabled() and torch.is_inference_mode_enabled()


@pytest.mark.parametrize("make", [torch.no_grad, torch.enable_grad, torch.inference_mode,
                                  lambda: torch.set_grad_enabled(False)],
                         ids=["no_grad", "enable_grad", "inference_mode", "set_grad_enabled"])
def test_restored_after_exception(make):
    with pytest.raises(ValueError):
        with make():
            raise ValueError("boom")
    assert torch.is_grad_enabled() and not torch.is_inference_mode_enabled()
    with torch.no_grad():
        with pytest.raises(ValueError):
            with make():
                raise ValueError("boom")
        assert not torch.is_grad_enabled()


def test_decorator_restores_after_exception():
    @torch.no_grad()
    def f():
        raise KeyError("x")

    with pytest.raises(KeyError):
        f()
    assert torch.is_grad_enabled()


def test_deep_nesting():
    seen = []
    with torch.no_grad():
        seen.append(torch.is_grad_enabled())
        with torch.enable_grad():
            seen.append(torch.is_grad_enabled())
            with torch.set_grad_enabled(False):
                seen.append(torch.is_grad_enabled())
                with torch.inference_mode():
                    seen.append(torch.is_grad_enabled())
                seen.append(torch.is_grad_enabled())
            seen.append(torch.is_grad_enabled())
        seen.append(torch.is_grad_enabled())
    seen.append(torch.is_grad_enabled())
    assert seen == [False, True, False, False, False, True, False, True]


def test_reusable_instance():
    ng = torch.no_grad()
    for _ in range(2):
        with ng:
            assert not torch.is_grad_enabled()
        assert torch.is_grad_enabled()


def test_backward_inside_no_grad_still_works():
    x = x_()
    s = (x * x).sum()
    with torch.no_grad():
        s.backward()
    assert x.grad.tolist() == [2.0, 4.0]


def test_grad_mode_is_per_thread():
    x = x_()
    out = {}

    def worker():
        out["enabled"] = torch.is_grad_enabled()
        out["rg"] = (x * 2).requires_grad

    with torch.no_grad():
        t = threading.Thread(target=worker)
        t.start()
        t.join()
    assert out == {"enabled": True, "rg": True}
