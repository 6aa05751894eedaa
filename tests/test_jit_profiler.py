"""tapegrad.jit (no TorchScript: script/trace return what they get) and the profiler
(tapegrad.profiler, tapegrad.autograd.profiler): what is timed, nesting, tables, Chrome
traces, schedules, threads, and that the recording path is untouched outside a profile."""

import json
import threading
import time
import typing
import warnings

import numpy as np
import pytest

import tapegrad as torch
from tapegrad import nn, recorder
from tapegrad.autograd import profiler as aprof
from tapegrad.autograd.engine import backward as engine_backward, grad as engine_grad
from tapegrad.profiler import (ProfilerAction, ProfilerActivity, profile, record_function,
                               schedule, tensorboard_trace_handler)
from tapegrad.tape.tape import Tape

PLAIN = {n: Tape.__dict__[n] for n in ("record", "record_wide", "record_cast", "overwrite",
                                       "record_python")}
TENSOR_BACKWARD = torch.Tensor.__dict__["backward"]


def _untouched():
    assert all(Tape.__dict__[n] is f for n, f in PLAIN.items())
    assert Tape.record is recorder._PLAIN_RECORD
    assert torch.Tensor.__dict__["backward"] is TENSOR_BACKWARD
    assert torch.autograd.backward is engine_backward and torch.autograd.grad is engine_grad
    assert aprof._ACTIVE[0] == 0 and aprof._LOCAL.col is None


@pytest.fixture(autouse=True)
def _clean():
    yield
    torch.autograd.set_detect_anomaly(False)
    _untouched()


def _counts(prof):
    return {e.key: e.count for e in prof.key_averages()}


# ---- jit -----------------------------------------------------------------------------
def test_script_returns_the_module_which_keeps_training():
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    scripted = torch.jit.script(model)
    assert scripted is model
    x = torch.randn(4, 3)
    scripted(x).sum().backward()
    assert model.weight.grad.shape == (2, 3)

    def f(a):
        return a * 2

    assert torch.jit.script(f) is f


def test_trace_runs_once_on_the_example_inputs():
    calls = []

    def f(a, b=None):
        calls.append(a.shape)
        return a + 1

    x = torch.ones(2)
    assert torch.jit.trace(f, x) is f and calls == [(2,)]
    assert torch.jit.trace(f, (x, x)) is f and len(calls) == 2
    assert torch.jit.trace(f, example_kwarg_inputs={"a": x}) is f and len(calls) == 3

    def bad(a):
        raise ValueError("inside the traced function")

    with pytest.raises(ValueError, match="inside the traced"):
        torch.jit.trace(bad, x)
    with pytest.raises(RuntimeError, match="example_inputs"):
        torch.jit.trace(f)
    model = nn.Linear(2, 2)
    assert torch.jit.trace(model, torch.ones(1, 2)) is model
    assert torch.jit.trace_module(model, {"forward": torch.ones(1, 2)}) is model


def test_decorators_and_helpers():
    def f():
        return 1

    assert torch.jit.ignore(f) is f and torch.jit.ignore(drop=True)(f) is f
    assert torch.jit.unused(f) is f and torch.jit.export(f) is f
    assert torch.jit.is_scripting() is False and torch.jit.is_tracing() is False
    v = [1, 2]
    assert torch.jit.annotate(typing.List[int], v) is v
    assert torch.jit.Attribute(v, list) is v
    assert torch.jit.Final is typing.Final
    fut = torch.jit.fork(lambda a, b: a + b, 2, b=3)
    assert torch.jit.wait(fut) == 5 and fut.done()
    m = nn.Linear(2, 2)
    with pytest.raises(RuntimeError, match="eval mode"):
        torch.jit.freeze(m)
    assert torch.jit.freeze(m.eval()) is m


def test_save_and_load_refuse_pointing_to_save_and_func(tmp_path):
    for call in (lambda: torch.jit.save(nn.Linear(1, 1), tmp_path / "m.pt"),
                 lambda: torch.jit.load(tmp_path / "m.pt")):
        with pytest.raises(RuntimeError, match="no TorchScript") as e:
            call()
        assert "tapegrad.save" in str(e.value) and "tapegrad.func" in str(e.value)


def test_unknown_jit_names_say_not_supported():
    with pytest.raises(AttributeError, match="tapegrad does not support torch.jit.ScriptModule"):
        torch.jit.ScriptModule
    with pytest.raises(AttributeError) as e:
        torch.jit.not_a_pytorch_name
    assert "does not support" not in str(e.value)
    with pytest.raises(AttributeError, match="tapegrad does not support torch.stft yet"):
        torch.stft  # the top-level names still behave
    with pytest.raises(AttributeError, match="does not support torch.profiler.itt yet"):
        torch.profiler.itt
    with pytest.raises(AttributeError, match="torch.autograd.profiler.emit_nvtx yet"):
        torch.autograd.profiler.emit_nvtx


@pytest.mark.torch
def test_script_gives_pytorch_outputs():
    torch_ref = pytest.importorskip("torch")
    ref = torch_ref.nn.Sequential(torch_ref.nn.Linear(3, 4), torch_ref.nn.Tanh())
    ours = nn.Sequential(nn.Linear(3, 4), nn.Tanh())
    ours.load_state_dict({k: torch.tensor(v.detach().numpy()) for k, v in
                          ref.state_dict().items()})
    x = np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)
    want = torch_ref.jit.script(ref)(torch_ref.tensor(x)).detach().numpy()
    got = torch.jit.script(ours)(torch.tensor(x)).detach().numpy()
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    assert torch_ref.jit.is_scripting() == torch.jit.is_scripting()
    assert torch_ref.jit.Final is torch.jit.Final


# ---- the profiler: what is timed --------------------------------------------------------
def test_recorded_ops_ranges_and_backward_are_listed():
    w = torch.randn(3, 2, requires_grad=True)
    x = torch.randn(4, 3)
    with profile() as prof:
        with record_function("forward"):
            for _ in range(3):
                y = (x @ w).tanh().sum()
        y.backward()
        torch.autograd.backward([(w * 2.0).sum()])
        (g,) = torch.autograd.grad((w * w).sum(), [w])
        with torch.no_grad():
            (x * 3).exp()  # NumPy, no record: not listed
    c = _counts(prof)
    assert c["forward"] == 1 and c["mm"] == 3 and c["tanh"] == 3 and c["sum"] == 5
    assert c["autograd::backward"] == 2 and c["autograd::grad"] == 1
    assert "exp" not in c
    fwd = next(e for e in prof.events() if e.name == "forward")
    assert sorted(k.name for k in fwd.cpu_children) == ["mm"] * 3 + ["sum"] * 3 + ["tanh"] * 3
    assert all(k.cpu_parent is fwd for k in fwd.cpu_children)


def test_custom_function_is_named_after_its_class():
    class Double(torch.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    x = torch.ones(3, requires_grad=True)
    with profile() as prof:
        Double.apply(x).sum().backward()
    assert {"Double", "sum", "autograd::backward"} <= set(_counts(prof))
    assert "python" not in _counts(prof)


def test_nested_ranges_split_total_and_self_time():
    with profile() as prof:
        with record_function("outer"):
            time.sleep(0.02)
            with record_function("inner"):
                time.sleep(0.03)
    ev = {e.name: e for e in prof.events()}
    outer, inner = ev["outer"], ev["inner"]
    assert inner.cpu_parent is outer and outer.cpu_children == [inner]
    assert inner.cpu_time_total >= 30e3 and outer.cpu_time_total >= 50e3
    assert outer.self_cpu_time_total == pytest.approx(outer.cpu_time_total
                                                      - inner.cpu_time_total)
    assert 20e3 <= outer.self_cpu_time_total < 30e3 + 20e3
    assert prof.self_cpu_time_total == pytest.approx(outer.cpu_time_total)


def test_record_function_as_decorator_and_outside_a_profile():
    @record_function("step")
    def step(a):
        return (a * a).sum()

    x = torch.ones(2, requires_grad=True)
    assert step(x).item() == 2.0  # no profile: nothing happens
    with profile() as prof:
        step(x)
        step(x)
    assert _counts(prof)["step"] == 2
    assert step.__name__ == "step"


def test_shapes_are_recorded_and_grouped():
    a = torch.randn(2, 3, requires_grad=True)
    b = torch.randn(4, 5, requires_grad=True)
    with profile(record_shapes=True) as prof:
        a.sin()
        b.sin()
        b.sin()
        a + 1.0
    grouped = {(e.key, str(e.input_shapes)): e.count
               for e in prof.key_averages(group_by_input_shape=True)}
    assert grouped[("sin", "[[2, 3]]")] == 1 and grouped[("sin", "[[4, 5]]")] == 2
    assert grouped[("add_scalar", "[[2, 3], []]")] == 1
    table = prof.key_averages(group_by_input_shape=True).table()
    assert "Input Shapes" in table and "[[4, 5]]" in table
    assert "Input Shapes" not in prof.key_averages().table()


def test_table_layout_sort_and_row_limit():
    w = torch.ones(3, requires_grad=True)
    with profile() as prof:
        for _ in range(4):
            (w * 2.0).sum()
        with record_function("slow"):
            time.sleep(0.01)
    table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=2)
    lines = table.splitlines()
    for col in ("Name", "Self CPU %", "Self CPU", "CPU total %", "CPU total",
                "CPU time avg", "# of Calls"):
        assert col in lines[1]
    assert set(lines[0]) == {"-", " "} and lines[2] == lines[0]
    rows = lines[3:-2]
    assert len(rows) == 2 and rows[0].split()[0] == "slow"
    assert lines[-1].startswith("Self CPU time total: ")
    by_count = prof.key_averages().table(sort_by="count").splitlines()[3].split()
    assert by_count[-1] == "4"
    assert "ms" in prof.key_averages().table(time_unit="ms")
    with pytest.raises(AttributeError, match="sort_by"):
        prof.key_averages().table(sort_by="not_a_column")
    assert prof.events().table()  # the events themselves tabulate too
    total = prof.key_averages().total_average()
    assert total.count == len(prof.events())


def test_chrome_trace_is_valid_json(tmp_path):
    w = torch.ones(2, requires_grad=True)
    with profile(record_shapes=True) as prof:
        with record_function("block"):
            (w * w).sum().backward()
    path = tmp_path / "trace.json"
    prof.export_chrome_trace(str(path))
    data = json.loads(path.read_text())
    names = [e["name"] for e in data["traceEvents"]]
    assert {"block", "mul", "sum", "autograd::backward"} <= set(names)
    for e in data["traceEvents"]:
        assert e["ph"] == "X" and e["dur"] >= 0 and e["ts"] >= 0 and "pid" in e
    mul = next(e for e in data["traceEvents"] if e["name"] == "mul")
    assert mul["args"]["Input Dims"] == [[2], [2]]


# ---- the profiler: state, threads, schedules ----------------------------------------------
def test_wrappers_are_removed_even_after_an_error():
    with pytest.raises(ZeroDivisionError):
        with profile():
            assert Tape.record is not recorder._PLAIN_RECORD
            1 / 0
    _untouched()


def test_results_before_the_end_and_nesting_refuse():
    with aprof.profile() as prof:
        with pytest.raises(RuntimeError, match="didn't finish"):
            prof.key_averages()
        with pytest.raises(RuntimeError, match="already running"):
            with profile():
                pass
    assert prof.key_averages() is not None
    with aprof.profile(enabled=False) as off:
        torch.ones(1, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="didn't finish"):
        off.events()


def test_device_activities_warn_and_are_ignored():
    with pytest.warns(UserWarning, match="CUDA is not available, disabling CUDA profiling"):
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            torch.ones(2, requires_grad=True).sum()
    assert _counts(prof) == {"sum": 1}
    with pytest.warns(UserWarning, match="CUDA is not available"):
        with aprof.profile(use_cuda=True):
            pass
    assert torch.profiler.supported_activities() == {ProfilerActivity.CPU}


def test_a_profile_sees_only_its_own_thread():
    x = torch.ones(3, requires_grad=True)
    go, done = threading.Event(), threading.Event()
    seen = {}

    def worker():
        y = torch.ones(3, requires_grad=True)
        with profile() as p:
            go.wait(10)
            for _ in range(5):
                y.cos()
        seen["worker"] = _counts(p)
        done.set()

    t = threading.Thread(target=worker)
    t.start()
    with profile() as prof:
        go.set()
        for _ in range(3):
            x.exp()
        done.wait(10)
    t.join()
    assert _counts(prof) == {"exp": 3}
    assert seen["worker"] == {"cos": 5}


def test_anomaly_mode_inside_a_profile():
    x = torch.ones(2, requires_grad=True)
    with profile() as prof:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.autograd.set_detect_anomaly(True)  # wraps on top of the profiler
            x.exp()
            torch.autograd.set_detect_anomaly(False)
        x.exp()
    assert _counts(prof) == {"exp": 2}
    x.exp()  # our wrapper, now on top again and idle, takes itself off
    _untouched()
    # the other order: anomaly's wrapper under ours, switched off inside the profile
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.autograd.set_detect_anomaly(True)
        with profile() as prof:
            x.sin()
            torch.autograd.set_detect_anomaly(False)  # puts back the plain methods
            with record_function("r"):  # a range puts the profiler's wrappers back
                x.sin()
    assert _counts(prof) == {"sin": 2, "r": 1}


def test_schedule_actions():
    s = schedule(wait=1, warmup=1, active=2, repeat=1)
    A = ProfilerAction
    assert [s(i) for i in range(6)] == [A.NONE, A.WARMUP, A.RECORD, A.RECORD_AND_SAVE,
                                       A.NONE, A.NONE]
    s = schedule(wait=0, warmup=0, active=1, skip_first=2)
    assert [s(i) for i in range(4)] == [A.NONE, A.NONE, A.RECORD_AND_SAVE, A.RECORD_AND_SAVE]
    with pytest.raises(ValueError):
        schedule(wait=0, warmup=0, active=0)


def test_schedule_records_the_active_steps_and_calls_on_trace_ready(tmp_path):
    x = torch.ones(2, requires_grad=True)
    traces = []
    handler = tensorboard_trace_handler(str(tmp_path), worker_name="w")

    def ready(p):
        traces.append(_counts(p))
        handler(p)

    with profile(schedule=schedule(wait=1, warmup=1, active=2, repeat=2),
                 on_trace_ready=ready) as prof:
        for step in range(10):
            for _ in range(step + 1):
                x.exp()
            prof.step()
    assert traces == [{"exp": 3 + 4}, {"exp": 7 + 8}]
    files = sorted(tmp_path.glob("w.*.pt.trace.json"))
    assert len(files) >= 1 and json.loads(files[-1].read_text())["traceEvents"]
    assert _counts(prof) == {"exp": 15}


@pytest.mark.torch
def test_table_columns_and_schedule_match_pytorch():
    torch_ref = pytest.importorskip("torch")
    tables = []
    for lib in (torch, torch_ref):
        w = lib.ones(3, requires_grad=True)
        with lib.profiler.profile(activities=[lib.profiler.ProfilerActivity.CPU],
                                  record_shapes=True) as p:
            with lib.profiler.record_function("block"):
                (w * 2.0).sum().backward()
        tables.append(p.key_averages(group_by_input_shape=True).table(
            sort_by="self_cpu_time_total", row_limit=10).splitlines())
        assert "block" in {e.key for e in p.key_averages()}
    assert tables[0][1].split("  ") and \
        [c.strip() for c in tables[0][1].split("  ") if c.strip()] == \
        [c.strip() for c in tables[1][1].split("  ") if c.strip()]
    assert tables[0][-1].split(":")[0] == tables[1][-1].split(":")[0]
    for kw in ({"wait": 1, "warmup": 1, "active": 2, "repeat": 1},
               {"wait": 2, "warmup": 0, "active": 1, "skip_first": 1},
               {"wait": 1, "warmup": 2, "active": 3, "repeat": 0, "skip_first_wait": 1}):
        ours, ref = schedule(**kw), torch_ref.profiler.schedule(**kw)
        assert [ours(i).name for i in range(14)] == [ref(i).name for i in range(14)]
