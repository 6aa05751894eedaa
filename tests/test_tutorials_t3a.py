"""A third batch of PyTorch programs (tests/tutorials/t3a_*.py), run unchanged with
`import tapegrad as torch`: the Quickstart end to end, custom datasets and loaders, a
checkpoint resumed, fine-tuning a frozen backbone, regression metrics and schedules, an
L-BFGS fit, classification losses and metrics, and the nn.Module surface.

The machinery is tests/test_tutorials.py's (the alias shim, the subprocess run, the
comparison of lines with numbers to a relative 1e-4); PyTorch's outputs of these programs
are stored below, with KNOWN, the lines where tapegrad is known to print otherwise. The
programs print an exception's type and the first line of its message up to any detail in
parentheses (tapegrad adds the shapes and dtypes there). The torch-marked test checks that
the stored output is current; `python tests/test_tutorials_t3a.py --regen` rewrites it.
"""

import sys
from pathlib import Path

import pytest

from test_tutorials import _mismatches as _lines_differ
from test_tutorials import _normalize, _programs, _pytorch_outputs, _regen, _run
from test_tutorials import shim  # noqa: F401  (the fixture)

PREFIX = "t3a_"

# (PyTorch's line, tapegrad's line): known differences, each with its reason
KNOWN: dict = {}


def _differ(name: str, want: str, got: str) -> list:
    """Lines of `got` that differ from `want` beyond this batch's KNOWN differences."""
    return _lines_differ(name, want, got, KNOWN)


@pytest.mark.parametrize("name", [p.stem for p in _programs(PREFIX)])
def test_t3a_program_prints_what_pytorch_prints(name, shim, tmp_path):  # noqa: F811
    assert name in EXPECTED, f"no stored PyTorch output for {name}.py (run --regen)"
    bad = _differ(name, EXPECTED[name], _run(name, tmp_path, shim))
    assert not bad, f"{name}.py prints differently on tapegrad:\n" + "\n".join(bad[:10])


def test_t3a_batch_is_complete_and_known_is_current():
    """Every program has stored output, and every KNOWN entry names a line PyTorch prints."""
    assert sorted(EXPECTED) == [p.stem for p in _programs(PREFIX)]
    for name, pairs in KNOWN.items():
        lines = set(EXPECTED[name].splitlines())
        assert set(pairs) <= lines, (name, set(pairs) - lines)
    assert _differ("x", "a 1.0\nb", "a 1.00001\nb") == []
    assert _normalize("a \n") == "a\n"


@pytest.mark.torch
def test_t3a_stored_pytorch_output_is_current(tmp_path):
    pytest.importorskip("torch")
    fresh = _pytorch_outputs(tmp_path, PREFIX)
    assert sorted(fresh) == sorted(EXPECTED), "run: python tests/test_tutorials_t3a.py --regen"
    stale = {n: _differ(n, fresh[n], EXPECTED[n])[:5] for n in fresh}
    stale = {n: d for n, d in stale.items() if d}
    assert not stale, f"stale output for {stale}: python tests/test_tutorials_t3a.py --regen"


# ---- PyTorch's output (begin) ----
EXPECTED = {
    "t3a_checkpoint_resume": r"""
<All keys matched successfully>
['fc1.weight', 'fc1.bias', 'bn.weight', 'bn.bias', 'bn.running_mean', 'bn.running_var', 'bn.num_batches_tracked', 'fc2.weight', 'fc2.bias']
[{'lr': 0.01, 'betas': (0.9, 0.99), 'eps': 1e-08, 'weight_decay': 0.0001, 'amsgrad': False, 'maximize': False, 'foreach': None, 'capturable': False, 'differentiable': False, 'fused': None, 'decoupled_weight_decay': False, 'initial_lr': 0.01, 'params': [0, 1, 2, 3, 4, 5]}]
{}
epoch 0 loss 1.164518 lr 0.010000
epoch 1 loss 1.115287 lr 0.005000
epoch 2 loss 1.085589 lr 0.005000
['param_groups', 'state'] [0, 1, 2, 3, 4, 5] ['exp_avg', 'exp_avg_sq', 'step']
tensor(9.) torch.Size([16, 6]) tensor([2.4231e-03, 2.2434e-03, 4.0775e-05])
[0, 1, 2, 3, 4, 5] 0.005 0.01
{'step_size': 2, 'gamma': 0.5, 'base_lrs': [0.01], 'last_epoch': 3, '_step_count': 4, '_is_initial': False, '_get_lr_called_within_step': False, '_last_lr': [0.005]}
tensor([ 0.1023, -0.0605,  0.3872,  0.1067]) tensor(9)
epoch 3 loss 1.072528 lr 0.002500
epoch 4 loss 1.061900 lr 0.002500
<All keys matched successfully>
['epoch', 'loss', 'model_state_dict', 'optimizer_state_dict', 'scheduler_state_dict'] 3 tensor(1.0163, requires_grad=True)
<All keys matched successfully>
0.005 3 [0.005]
tensor(9.) 6
epoch 3 loss 1.072528 lr 0.002500
epoch 4 loss 1.061900 lr 0.002500
resumed equals uninterrupted: True True
[1.0127506256103516, 1.0094109773635864]
Parameter containing:
tensor([[-0.1455,  0.0772, -0.6133, -0.0086, -0.2800,  0.6513,  0.1547,  0.0270,
         -0.0609, -0.7505,  0.1722,  0.4095, -0.3062,  0.1863,  0.1616, -0.5260],
        [ 0.3716,  0.3100,  0.1040, -0.1031,  0.2216, -0.4058,  0.1015,  0.2672,
         -0.4573,  0.2185, -0.0764, -0.5515,  0.0450, -0.3243,  0.1358, -0.3174],
        [ 0.2225, -0.1264,  0.1871, -0.1267, -0.1012,  0.3839,  0.0397, -0.0468,
         -0.3220,  0.4176,  0.2053, -0.1099,  0.0837, -0.2267, -0.2365, -0.1896]],
       requires_grad=True)
tensor([-0.1955,  0.1829,  0.0126])
[[-0.359, 0.336, -0.235], [-0.132, 0.269, -0.29], [0.055, 0.258, -0.308], [-0.029, 0.265, -0.191]] tensor([1, 1, 1, 1])
<All keys matched successfully>
True tensor(15)
{'a': [tensor([0, 1, 2]), (1.5, 's')], 'b': {'c': tensor([1., 1.], dtype=torch.float64)}}
tuple
False
""",
    "t3a_classification_losses": r"""
tensor([[-3.47653, -2.67329, -2.72221, -0.70323],
        [-4.62516, -0.37779, -1.91446,  1.78720],
        [ 1.91369,  2.78452,  1.53494, -0.10606],
        [ 1.71959,  3.01096, -1.30719,  1.22070],
        [-0.08535,  2.88003, -1.67379, -0.60309],
        [ 0.72468,  0.51622, -3.27890,  0.72031]], requires_grad=True)
{} tensor(1.63675) NllLossBackward0 tensor([ 0.00024,  0.01676,  0.00361, -0.02061])
{'weight': tensor([1.00000, 2.00000, 0.50000, 1.50000])} tensor(1.06208) NllLossBackward0 tensor([ 0.00025,  0.01775,  0.00382, -0.02182])
{'label_smoothing': 0.1} tensor(1.70902) AddBackward0 tensor([-0.00393,  0.01259, -0.00056, -0.00811])
{'weight': tensor([1.00000, 2.00000, 0.50000, 1.50000]), 'label_smoothing': 0.2} tensor(1.18861) AddBackward0 tensor([-0.00564,  0.00539,  0.00075, -0.00050])
{'ignore_index': 1} tensor(2.21991) NllLossBackward0 tensor([ 0.00036,  0.02514,  0.00541, -0.03091])
{'weight': tensor([1.00000, 2.00000, 0.50000, 1.50000]), 'ignore_index': 3} tensor(1.32091) NllLossBackward0 tensor([0., 0., 0., 0.])
{'reduction': 'sum'} tensor(9.82051) NllLossBackward0 tensor([ 0.00144,  0.10056,  0.02163, -0.12363])
{'reduction': 'none', 'label_smoothing': 0.3} tensor([2.73719, 1.05290, 0.94158, 0.93008, 4.10158, 1.35805]) AddBackward0 tensor([-0.07356,  0.02556, -0.05337,  0.10137])
{'reduction': 'sum', 'weight': tensor([1.00000, 2.00000, 0.50000, 1.50000]), 'ignore_index': 0} tensor(5.96564) NllLossBackward0 tensor([ 0.00216,  0.15085,  0.03245, -0.18545])
CrossEntropyLoss()
tensor(nan, grad_fn=<NllLossBackward0>)
tensor(2.20740, grad_fn=<DivBackward1>) tensor(2.22261, grad_fn=<DivBackward1>) tensor(2.64578, grad_fn=<DivBackward1>)
LogSoftmaxBackward0 tensor(1.63675, grad_fn=<NllLossBackward0>) tensor(1.63675, grad_fn=<NllLossBackward0>)
tensor([3.06200, 0.19796, 1.13151, 0.75020, 2.32127, 1.56470],
       grad_fn=<NllLossBackward0>)
tensor(2.16135, grad_fn=<NllLossBackward0>)
tensor(True)
tensor(1.65010) tensor([[1.89261, 3.82576, 1.60069, 1.06609],
        [1.54382, 0.68390, 0.93779, 0.00000]])
tensor(1.02005) tensor([-0.02853,  0.05828,  0.02935])
tensor(1.20866) tensor([-0.05706,  0.05828,  0.02935])
tensor(13.02780) tensor([-0.42795,  0.00000,  0.88038])
tensor([[1.11704, 2.07249, 0.58016],
        [0.99450, 0.09434, 1.36270],
        [2.11980, 1.09102, 2.48057],
        [0.93127, 1.51012, 0.48309],
        [0.30075, 0.98628, 2.00568]]) tensor([-0.85589,  0.87413,  0.44019])
tensor(1.02005, grad_fn=<BinaryCrossEntropyBackward0>) tensor(1.65725, grad_fn=<BinaryCrossEntropyBackward0>)
per-label precision tensor([0.50000, 0.25000, 0.66667]) recall tensor([0.66667, 0.50000, 1.00000])
exact match tensor(0.)
tensor(0.79350) tensor(0.79350)
tensor(3.17402) tensor(0.15870)
tensor([ 1.31155, -0.14732, -0.04853, -0.06897,  0.06163])
tensor(0.79350)
tensor(1.08068)
tensor([[0.04679, 0.10448, 0.09949, 0.74923],
        [0.00144, 0.10056, 0.02163, 0.87637],
        [0.23774, 0.56793, 0.16278, 0.03155],
        [0.18891, 0.68722, 0.00916, 0.11471],
        [0.04716, 0.91510, 0.00963, 0.02810],
        [0.35389, 0.28730, 0.00646, 0.35235]], grad_fn=<SoftmaxBackward0>)
True torch.return_types.max(
values=tensor([0.74923, 0.87637, 0.56793, 0.68722, 0.91510, 0.35389],
       grad_fn=<MaxBackward0>),
indices=tensor([3, 3, 1, 1, 1, 0]))
tensor([3, 3, 1, 1, 1, 0]) tensor([False,  True,  True,  True, False, False]) 3 tensor(0.50000)
tensor([[-0.70323, -2.67329],
        [ 1.78720, -0.37779],
        [ 2.78452,  1.91369],
        [ 3.01096,  1.71959],
        [ 2.88003, -0.08535],
        [ 0.72468,  0.72031]], grad_fn=<TopkBackward0>) tensor([[3, 1],
        [3, 1],
        [1, 0],
        [1, 0],
        [1, 0],
        [0, 3]])
tensor([[0, 2],
        [0, 2],
        [3, 2],
        [2, 3],
        [2, 3],
        [2, 1]]) tensor([-0.70323, -2.67329, -2.72221], grad_fn=<TopkBackward0>)
top-2 accuracy 0.6666666865348816 tensor([False,  True,  True,  True, False,  True])
tensor(4.) tensor(66.66667)
tensor([[0, 0, 0, 1],
        [0, 2, 0, 0],
        [0, 1, 0, 0],
        [1, 0, 0, 1]])
tensor([0.00000, 0.66667, 0.00000, 0.50000]) tensor([0.00000, 1.00000, 0.00000, 0.50000]) tensor([0.00000, 0.80000, 0.00000, 0.50000])
tensor([1, 2, 1, 2, 0]) tensor([0.35389, 2.17025, 0.00000, 1.62560])
tensor(1.63675, grad_fn=<NllLossBackward0>) tensor(1.63675, grad_fn=<NllLossBackward0>)
tensor(0.50000) torch.LongTensor tensor(3., dtype=torch.float64)
tensor(1.02005, grad_fn=<MeanBackward0>) tensor([1.29792, 1.14868, 3.55085, 1.35562, 0.93319], grad_fn=<DivBackward0>)
MultiLabelSoftMarginLoss() MultiMarginLoss()
tensor(0.81139) MultiMarginLossBackward0 tensor([-0.12500,  0.04167,  0.04167,  0.04167])
tensor(1.27850) MultiMarginLossBackward0 tensor([-0.48591,  0.10860,  0.10453,  0.27277])
tensor([1.83272, 0.00000, 0.03229, 0.00000, 2.55324, 0.45007]) MultiMarginLossBackward0 tensor([-0.75000,  0.25000,  0.25000,  0.25000])
tensor(0.89179) SoftMarginLossBackward0 tensor([-0.04042,  0.00269,  0.00257,  0.01380])
tensor(0.91152, grad_fn=<MeanBackward0>) tensor([1.55733, 0.07943, 1.17722], grad_fn=<AddBackward0>)
tensor([-0.55733,  0.07943, -0.17722], grad_fn=<SumBackward1>) tensor([1.00000, 1.00000, 1.00000], grad_fn=<LinalgVectorNormBackward0>)
tensor([0.91510, 0.68722, 0.56793, 0.28730, 0.10448, 0.10056],
       grad_fn=<SortBackward0>) tensor([4, 3, 2, 5, 0, 1]) tensor([4, 3, 2, 5, 0, 1])
torch.return_types.kthvalue(
values=tensor(0.10448, grad_fn=<KthvalueBackward0>),
indices=tensor(0)) tensor(0.68722, grad_fn=<MedianBackward0>)
RuntimeError: result type Float can't be cast to the desired output type Long
RuntimeError: Found dtype Double but expected Float
RuntimeError: target out of range
RuntimeError: expected target dtype to be Long or Byte, but got Float
ValueError: Expected input batch_size
ValueError: Target size
IndexError: Target 4 is out of bounds.
""",
    "t3a_custom_dataset": r"""
23
['idx', 'image', 'landmarks', 'name'] torch.Size([3, 8, 8]) torch.float32 ndarray float64 face_004.jpg 4
5
dict ['idx', 'image', 'landmarks', 'name']
torch.Size([5, 3, 8, 8]) torch.float32
torch.Size([5, 4, 2]) torch.float64
['face_000.jpg', 'face_001.jpg', 'face_002.jpg', 'face_003.jpg', 'face_004.jpg']
tensor([0, 1, 2, 3, 4]) torch.int64
5 [5, 5, 5, 5, 3]
18 5 [4, 20, 1, 13, 8] 4 face_004.jpg
FaceLandmarksDataset
2
0 torch.Size([5, 3, 8, 8]) torch.Size([5, 4, 2]) torch.float64 [0, 1, 2, 3, 4]
1 torch.Size([5, 3, 8, 8]) torch.Size([5, 4, 2]) torch.float64 [5, 6, 7, 8, 9]
torch.float32 int
0 torch.Size([4, 4]) tensor([3, 3, 2, 4]) tensor([1, 1, 2, 1]) tensor([-0.4484, -2.3777, -0.0400,  1.1453])
1 torch.Size([4, 5]) tensor([4, 5, 3, 4]) tensor([1, 0, 0, 1]) tensor([ 1.0803, -0.2890, -1.0376, -1.9784])
2 torch.Size([1, 3]) tensor([3]) tensor([0]) tensor([4.6848])
tensor([[ 0.1882, -0.0236, -0.6130,  0.0000],
        [-1.4445, -0.1686, -0.7646,  0.0000],
        [ 0.2386, -0.2786,  0.0000,  0.0000],
        [ 0.3859,  0.5653,  1.2659, -1.0718]])
RuntimeError stack expects each tensor to be equal
10 tensor(2) torch.Size([3]) 2
14 [10, 14] tensor(9) tensor(100) tensor(103)
torch.Size([6, 3]) [0, 1, 2, 3, 4, 5] True
torch.Size([6, 3]) [6, 7, 8, 9, 100, 101] True
torch.Size([2, 3]) [102, 103] True
3 2
torch.Size([3, 3]) tensor([0, 1, 2]) 3
tensor([1, 2, 3]) torch.float64
[tensor([1, 2]), ('a', 'b')]
tensor([[1., 2.],
        [3., 4.]], dtype=torch.float64)
{'a': tensor([1, 2]), 'b': tensor([[1., 1.],
        [0., 0.]])}
tensor([[0., 0.],
        [1., 1.]]) 3
tensor([0, 1, 2])
[17, 6] Subset True
[3, 3, 4]
ValueError: Sum of input lengths does not equal the length of the input dataset!
IndexError: index 100 is out of bounds for axis 0 with size 23
IndexError: index 10 is out of bounds for dimension 0 with size 10
AssertionError: Size mismatch between tensors
2 tensor(3) tensor(3)
tensor([0, 2]) tensor([1, 2]) torch.Size([3])
""",
    "t3a_freeze_finetune": r"""
init Conv2d (4, 1, 3, 3) 0.0
init Linear (12, 16) 0.0
init Linear (8, 12) 0.0
init Linear (5, 8) 0.0
True
['backbone.scale', 'backbone.mask', 'backbone.bn.running_mean', 'backbone.bn.running_var', 'backbone.bn.num_batches_tracked'] tensor(2.) False
['backbone.scale', 'backbone.conv.weight', 'backbone.conv.bias', 'backbone.bn.weight', 'backbone.bn.bias', 'backbone.bn.running_mean', 'backbone.bn.running_var', 'backbone.bn.num_batches_tracked', 'backbone.fc.weight', 'backbone.fc.bias', 'head.0.weight', 'head.0.bias', 'head.3.weight', 'head.3.bias']
401
backbone.conv.weight         (4, 1, 3, 3)   requires_grad=False
backbone.conv.bias           (4,)           requires_grad=False
backbone.bn.weight           (4,)           requires_grad=False
backbone.bn.bias             (4,)           requires_grad=False
backbone.fc.weight           (12, 16)       requires_grad=False
backbone.fc.bias             (12,)          requires_grad=False
head.0.weight                (8, 12)        requires_grad=True
head.0.bias                  (8,)           requires_grad=True
head.3.weight                (5, 8)         requires_grad=True
head.3.bias                  (5,)           requires_grad=True
trainable: 149
torch.Size([10, 5]) True AddmmBackward0
['backbone.fc', 'head.relu'] torch.Size([10, 12]) tensor([0.0000, 0.0000, 0.4578, 0.7070, 0.0000, 0.0000, 0.8279, 1.6903])
False [(10, 12)]
['head.relu'] [(10, 12)]
tensor([[1., 1., 1., 1., 1.],
        [1., 1., 1., 1., 1.]], grad_fn=<AddBackward0>)
2 [0.05, 0.0001] [4, 6] 0.9
0 2.33518 None 9.734214782714844
1 2.09486 None 8.054755210876465
2 1.79966 None 4.711376190185547
3 1.61046 None 1.9181382656097412
True tensor(3) False True
['backbone.fc.weight', 'backbone.fc.bias', 'head.0.weight', 'head.0.bias', 'head.3.weight', 'head.3.bias']
ValueError: some parameters appear in more than one parameter group
[0.05, 0.01, 0.5] [0.9, 0.9, 0.0] False 2
0 1.55046 tensor([-0.0333, -0.0049, -0.0456,  0.0627, -0.0204,  0.0037, -0.0115, -0.0141,
         0.0196, -0.0179, -0.0647,  0.0469]) 0.12066943943500519
1 1.51149 tensor([ 0.0017,  0.0713,  0.0294,  0.0690,  0.0670,  0.0826,  0.0389, -0.0604,
        -0.0158, -0.0438, -0.0620, -0.0596]) 0.143754243850708
tensor([-0.0934, -0.1023,  0.3848, -0.4726,  0.2952, -0.4395, -0.1324, -0.3362,
         0.5798,  0.2275,  0.9727,  0.2569,  0.3380,  0.3363, -0.2426, -0.0280],
       grad_fn=<SelectBackward0>)
0
False None tensor([0.9604, 1.0231, 0.2207, 0.5448])
tensor([0.4802, 0.5115, 0.1104]) tensor(1.)
""",
    "t3a_lbfgs_fit": r"""
torch.Size([80]) torch.float32 tensor([1.2457, 1.1156, 0.9772, 0.7769])
Oscillator()
[('A', torch.Size([]), True), ('log_gamma', torch.Size([]), True), ('omega', torch.Size([]), True), ('phi', torch.Size([]), True)]
A=1.0000 gamma=0.2000 omega=2.0000 phi=0.0000
{'lr': 1, 'max_iter': 20, 'max_eval': 25, 'tolerance_grad': 1e-07, 'tolerance_change': 1e-09, 'history_size': 10, 'line_search_fn': 'strong_wolfe'}
lbfgs step 0: loss 7.772881e-02 evals 14 A=1.2999 gamma=0.4017 omega=2.1974 phi=0.3012
lbfgs step 1: loss 3.997816e-04 evals 15 A=1.2999 gamma=0.4017 omega=2.1974 phi=0.3012
lbfgs step 2: loss 3.997816e-04 evals 16 A=1.2999 gamma=0.4017 omega=2.1974 phi=0.3012
lbfgs step 3: loss 3.997816e-04 evals 17 A=1.2999 gamma=0.4017 omega=2.1974 phi=0.3012
['H_diag', 'al', 'd', 'func_evals', 'n_iter', 'old_dirs', 'old_stps', 'prev_flat_grad', 'prev_loss', 'ro', 't'] 17 16
first losses [0.07773, 0.01794, 0.01073, 0.01026, 0.00577, 0.00231]
final mse 3.998e-04 True
tensor(True) torch.Size([80])
adam   0: loss 0.077729 lr 0.049999 A=0.9500 gamma=0.2103 omega=2.0500 phi=0.0500
adam  60: loss 0.000489 lr 0.045169 A=1.3046 gamma=0.4019 omega=2.1921 phi=0.3262
adam 120: loss 0.000400 lr 0.032826 A=1.2997 gamma=0.4018 omega=2.1974 phi=0.3018
adam 180: loss 0.000400 lr 0.017685 A=1.2999 gamma=0.4017 omega=2.1974 phi=0.3012
adam 240: loss 0.000400 lr 0.005529 A=1.2999 gamma=0.4017 omega=2.1974 phi=0.3012
adam 299: loss 0.000400 lr 0.001000 A=1.2999 gamma=0.4017 omega=2.1974 phi=0.3012
0.001 0.0255 300
rmsprop   0: loss 0.077729 A=0.9684 gamma=0.2064 omega=2.0316 phi=0.0316
rmsprop  15: loss 0.005784 A=1.0168 gamma=0.2674 omega=2.2310 phi=0.2240
rmsprop  30: loss 0.001806 A=1.1543 gamma=0.3336 omega=2.2267 phi=0.2402
rmsprop  45: loss 0.000505 A=1.2622 gamma=0.3846 omega=2.2078 phi=0.2813
rmsprop  59: loss 0.000400 A=1.2985 gamma=0.4011 omega=2.1978 phi=0.3005
['momentum_buffer', 'square_avg', 'step'] tensor(60.)
0.0 tensor([ 0.7198, -2.2779], dtype=torch.float64)
-2.7238313633011075 tensor([ 0.7270, -2.3610], dtype=torch.float64)
-2.7272693665676706 tensor([ 0.7273, -2.3636], dtype=torch.float64)
tensor([ 0.7273, -2.3636], dtype=torch.float64)
RuntimeError: only 'strong_wolfe' is supported
TypeError
""",
    "t3a_module_api": r"""
Net(
  (embed): Linear(in_features=3, out_features=4, bias=True)
  (blocks): ModuleList(
    (0-1): 2 x Block(
      (norm): LayerNorm((4,), eps=1e-05, elementwise_affine=True, bias=True)
      (ff): Sequential(
        (fc1): Linear(in_features=4, out_features=8, bias=True)
        (act): GELU(approximate='none')
        (fc2): Linear(in_features=8, out_features=4, bias=True)
      )
    )
  )
  (heads): ModuleDict(
    (cls): Linear(in_features=4, out_features=2, bias=True)
    (reg): Sequential(
      (0): Linear(in_features=4, out_features=1, bias=True)
      (1): Tanh()
    )
  )
  (dropout): Dropout(p=0.25, inplace=False)
)
['embed', 'blocks', 'heads', 'dropout']
['Linear', 'ModuleList', 'ModuleDict', 'Dropout']
['', 'embed', 'blocks', 'blocks.0', 'blocks.0.norm', 'blocks.0.ff', 'blocks.0.ff.fc1', 'blocks.0.ff.act', 'blocks.0.ff.fc2', 'blocks.1', 'blocks.1.norm', 'blocks.1.ff', 'blocks.1.ff.fc1', 'blocks.1.ff.act', 'blocks.1.ff.fc2', 'heads', 'heads.cls', 'heads.reg', 'heads.reg.0', 'heads.reg.1', 'dropout']
21 19 20
[('scale', (1,)), ('embed.weight', (4, 3)), ('embed.bias', (4,)), ('blocks.0.norm.weight', (4,)), ('blocks.0.norm.bias', (4,))]
[('step', tensor(0))]
Sequential(
  (0): Linear(in_features=4, out_features=1, bias=True)
  (1): Tanh()
) dict_keys(['cls', 'reg']) True 2
Linear(in_features=8, out_features=4, bias=True) GELU(approximate='none') 2
['fc1', 'act', 'fc2']
Linear(in_features=3, out_features=5, bias=True) Linear(in_features=5, out_features=1, bias=True) 5
Sequential(
  (1): ReLU()
  (2): Linear(in_features=5, out_features=5, bias=True)
)
Sequential Sequential(
  (0): Linear(in_features=3, out_features=5, bias=True)
  (2): Linear(in_features=5, out_features=5, bias=True)
  (4): Linear(in_features=5, out_features=1, bias=True)
)
Sequential(
  (0): Linear(in_features=3, out_features=5, bias=True)
  (1): ReLU()
  (2): Linear(in_features=5, out_features=5, bias=True)
  (3): Sigmoid()
  (4): Linear(in_features=5, out_features=1, bias=True)
  (final): Identity()
  (6): Flatten(start_dim=0, end_dim=-1)
)
['0', '1', '2', '3', '4', 'final', '6']
0 3 5
2 5 5
4 5 1
6 Flatten(start_dim=0, end_dim=-1)
LeakyReLU(negative_slope=0.2) Sequential(
  (0): Linear(in_features=3, out_features=5, bias=True)
  (1): LeakyReLU(negative_slope=0.2)
)
tensor([[0.1528, 2.4074],
        [0.7113, 2.9129],
        [1.8176, 2.8350],
        [1.7869, 0.7240]], grad_fn=<MulBackward0>) torch.Size([4, 1]) False False
True True
torch.float64 torch.int64 torch.float64
torch.float64 torch.float32 Net
True torch.float64 torch.float64
RuntimeError: mat1 and mat2 must have the same dtype, but got Double and Float
tensor([14.6137]) tensor([ 3.1603,  4.5597,  1.1304, -1.8987])
tensor([0.]) tensor([0., 0., 0., 0.]) None
tensor([1.5274]) tensor([0., 0.])
None None
tensor([0., 0., 0., 0.])
['scale', 'step', 'embed.weight', 'embed.bias', 'blocks.0.norm.weight', 'blocks.0.norm.bias', 'blocks.0.ff.fc1.weight', 'blocks.0.ff.fc1.bias', 'blocks.0.ff.fc2.weight', 'blocks.0.ff.fc2.bias', 'blocks.1.norm.weight', 'blocks.1.norm.bias', 'blocks.1.ff.fc1.weight', 'blocks.1.ff.fc1.bias', 'blocks.1.ff.fc2.weight', 'blocks.1.ff.fc2.bias', 'heads.cls.weight', 'heads.cls.bias', 'heads.reg.0.weight', 'heads.reg.0.bias']
OrderedDict tensor(0) False False
<All keys matched successfully>
True
['heads.cls.weight', 'heads.cls.bias', 'heads.reg.0.weight', 'heads.reg.0.bias']
['extra.weight']
_IncompatibleKeys(missing_keys=['heads.cls.weight', 'heads.cls.bias', 'heads.reg.0.weight', 'heads.reg.0.bias'], unexpected_keys=['extra.weight'])
RuntimeError: Error(s) in loading state_dict for Net:
['\tMissing key(s) in state_dict: "heads.cls.weight", "heads.cls.bias", "heads.reg.0.weight", "heads.reg.0.bias". ', '\tUnexpected key(s) in state_dict: "extra.weight". ']
RuntimeError: Error(s) in loading state_dict for Net:
size mismatch for embed.weight: copying a param with shape torch.Size([5, 3]) from checkpoint, the shape in current model is torch.Size([4, 3]).
strict=False too: size mismatch for embed.weight: copying a param with shape torch.Size([5, 3]) from checkpoint, the shape in current model is torch.Size([4, 3]).
['cls.weight', 'cls.bias', 'reg.0.weight', 'reg.0.bias']
<All keys matched successfully>
torch.Size([200]) torch.float32 True CatBackward0 tensor([ 0.9134, -1.5392,  0.4790,  0.0348,  0.6591], grad_fn=<SliceBackward0>)
tensor([1., 2., 3.], grad_fn=<SelectBackward0>) Parameter containing:
tensor([0.], requires_grad=True) True
tensor(19900., grad_fn=<SumBackward0>)
RuntimeError
TypeError: expected torch.Tensor, but got: list
True 3 in_features=4, out_features=2, bias=True
True False
Linear(in_features=4, out_features=8, bias=True) torch.Size([4])
AttributeError
AttributeError: 'Net' object has no attribute 'nosuch'
False
""",
    "t3a_quickstart_full": r"""
Shape of X [N, C, H, W]: torch.Size([64, 1, 28, 28])
Shape of y: torch.Size([64]) torch.int64
Using cpu device
NeuralNetwork(
  (flatten): Flatten(start_dim=1, end_dim=-1)
  (linear_relu_stack): Sequential(
    (0): Linear(in_features=784, out_features=64, bias=True)
    (1): ReLU()
    (2): Linear(in_features=64, out_features=64, bias=True)
    (3): ReLU()
    (4): Linear(in_features=64, out_features=10, bias=True)
  )
)
[('linear_relu_stack.0.weight', (64, 784)), ('linear_relu_stack.0.bias', (64,)), ('linear_relu_stack.2.weight', (64, 64)), ('linear_relu_stack.2.bias', (64,)), ('linear_relu_stack.4.weight', (10, 64)), ('linear_relu_stack.4.bias', (10,))]
Epoch 1
-------------------------------
loss: 2.319434  [   64/  320]
loss: 2.277699  [  192/  320]
loss: 2.280429  [  320/  320]
Test Error:
 Accuracy: 8.5%, Avg loss: 2.292915

Epoch 2
-------------------------------
loss: 2.271641  [   64/  320]
loss: 2.236506  [  192/  320]
loss: 2.243891  [  320/  320]
Test Error:
 Accuracy: 10.8%, Avg loss: 2.301373

Done!
Saved PyTorch Model State to model.pth
<All keys matched successfully>
Predicted: "Sneaker", Actual: "Bag"
torch.Size([1, 10]) torch.float32 False
True tensor([7])
Tensor torch.int64 torch.Size([]) 8 8
AddmmBackward0 torch.Size([1, 10])
tensor([1.0000], grad_fn=<SumBackward1>)
""",
    "t3a_regression_metrics": r"""
tensor([ 0.0218, -0.0564, -0.0149, -0.0399,  0.0646]) tensor([1.0260, 1.0426, 0.8917, 0.8781, 0.8569])
MSELoss() mean 4.1875 MseLossBackward0
MSELoss() sum 16.75 MseLossBackward0
MSELoss() none [0.25, 0.25, 4.0, 12.25] MseLossBackward0
L1Loss() mean 1.625 MeanBackward0
L1Loss() sum 6.5 SumBackward0
L1Loss() none [0.5, 0.5, 2.0, 3.5] AbsBackward0
HuberLoss() mean 1.1875 HuberLossBackward0
HuberLoss() sum 4.75 HuberLossBackward0
HuberLoss() none [0.125, 0.125, 1.5, 3.0] HuberLossBackward0
SmoothL1Loss() mean 1.1875 SmoothL1LossBackward0
SmoothL1Loss() sum 4.75 SmoothL1LossBackward0
SmoothL1Loss() none [0.125, 0.125, 1.5, 3.0] SmoothL1LossBackward0
tensor(0.6875, grad_fn=<HuberLossBackward0>) tensor(0.9062, grad_fn=<SmoothL1LossBackward0>)
HuberLoss() SmoothL1Loss()
tensor([ 0.3750, -0.3750, -0.6250,  0.6250])
tensor([ 1., -1., -1.,  1.])
True UserWarning
epoch 0: train 12.30447 val 13.90831 mae 2.7323 r2 0.1990 lr 0.05000 norms [3.956, 6.026, 4.293]
epoch 1: train 4.67479 val 4.19719 mae 1.7175 r2 0.7583 lr 0.05000 norms [6.012, 9.189, 5.578]
epoch 2: train 11.55672 val 13.01768 mae 3.1004 r2 0.2503 lr 0.05000 norms [17.169, 33.184, 41.028]
epoch 3: train 6.83574 val 6.92035 mae 1.7466 r2 0.6014 lr 0.02500 norms [33.712, 16.188, 8.327]
epoch 4: train 2.96252 val 5.79855 mae 1.5760 r2 0.6660 lr 0.02500 norms [6.754, 10.672, 7.465]
epoch 5: train 1.47571 val 1.62147 mae 1.0569 r2 0.9066 lr 0.02500 norms [6.59, 4.619, 6.583]
epoch 6: train 1.40103 val 1.67689 mae 0.9782 r2 0.9034 lr 0.02500 norms [7.603, 7.956, 6.167]
epoch 7: train 1.06096 val 2.90931 mae 1.1426 r2 0.8324 lr 0.01250 norms [3.608, 5.47, 4.537]
Tensor torch.float32 torch.Size([]) False
False False False
0 1.6214675903320312 True
dict_keys(['momentum_buffer']) tensor([[ 0.4338, -0.0258,  0.8212, -0.0765, -0.0040, -0.4670,  0.5743, -0.2667,
         -0.1576, -0.2674, -0.7210,  0.1287, -0.2148,  0.0010,  0.7231, -0.3085]])
tensor([[-1.8158, -2.4430],
        [ 3.6991,  4.2959],
        [-2.7862, -3.6305],
        [ 1.4886,  1.4789],
        [ 4.6746,  5.9897]])
tensor(0.6786) tensor(3.1922)
tensor(1.8244)
tensor(0.2332)
tensor([0.0008]) tensor([True])
False
tensor(0.)
GaussianNLLLoss() 1e-06 False
gnll epoch 9: 1.52123 mean var 3.3004
gnll epoch 19: 1.03854 mean var 8.2240
gnll epoch 29: 0.93101 mean var 7.9423
tensor(1.7700) tensor(27.2342)
tensor(0.3677) tensor([  57614.9453,  211040.6562, 1748505.5000])
ValueError: var has negative entry/entries
ValueError: var is of incorrect size
0.5 1.0 0 0 [1.0]
0.6 1.0 0 0 [1.0]
0.6 0.1 0 1 [0.1]
0.55 0.1 0 0 [0.1]
0.7 0.1 0 0 [0.1]
0.7 0.010000000000000002 0 1 [0.010000000000000002]
0.7 0.010000000000000002 0 0 [0.010000000000000002]
0.7 0.0010000000000000002 0 1 [0.0010000000000000002]
0.7 0.0010000000000000002 0 0 [0.0010000000000000002]
""",
}
# ---- PyTorch's output (end) ----
EXPECTED = {name: text.removeprefix("\n") for name, text in EXPECTED.items()}

if __name__ == "__main__":
    if sys.argv[1:] == ["--regen"]:
        _regen(Path(__file__), PREFIX)
    else:
        print("usage: python tests/test_tutorials_t3a.py --regen")
