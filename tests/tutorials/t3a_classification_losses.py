# Classification losses and metrics: CrossEntropyLoss (weights, label smoothing, ignore_index),
# BCEWithLogitsLoss(pos_weight), NLLLoss on log_softmax, KLDivLoss, top-k accuracy, precision.
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

rng = np.random.default_rng(8)
torch.set_printoptions(precision=5)
logits = torch.tensor(rng.normal(size=(6, 4)) * 2, dtype=torch.float32, requires_grad=True)
target = torch.tensor([0, 3, 1, 1, 2, 3])
weights = torch.tensor([1.0, 2.0, 0.5, 1.5])
print(logits)

for kw in ({}, {"weight": weights}, {"label_smoothing": 0.1}, {"weight": weights, "label_smoothing": 0.2},
           {"ignore_index": 1}, {"weight": weights, "ignore_index": 3}, {"reduction": "sum"},
           {"reduction": "none", "label_smoothing": 0.3}, {"reduction": "sum", "weight": weights,
                                                           "ignore_index": 0}):
    crit = nn.CrossEntropyLoss(**kw)
    loss = crit(logits, target)
    logits.grad = None
    loss.sum().backward()
    print(kw, loss.detach(), loss.grad_fn.name(), logits.grad[1])
print(nn.CrossEntropyLoss(weight=weights, label_smoothing=0.1))
all_ignored = F.cross_entropy(logits, torch.full((6,), -100))
print(all_ignored)

# soft (probability) targets
soft = torch.softmax(torch.tensor(rng.normal(size=(6, 4)), dtype=torch.float32), dim=1)
print(F.cross_entropy(logits, soft), F.cross_entropy(logits, soft, label_smoothing=0.1),
      F.cross_entropy(logits, soft, weight=weights))

# NLLLoss on log_softmax: the same numbers as cross_entropy
log_probs = F.log_softmax(logits, dim=1)
print(log_probs.grad_fn.name(), nn.NLLLoss()(log_probs, target), F.cross_entropy(logits, target))
print(nn.NLLLoss(weight=weights, reduction="none")(log_probs, target))
print(nn.NLLLoss(ignore_index=3)(log_probs, target))
print(nn.LogSoftmax(dim=1)(logits).exp().sum(1).sub(1).abs().max() < 1e-6)

# K-dimensional inputs: (N, C, d)
seg_logits = torch.tensor(rng.normal(size=(2, 3, 4)), dtype=torch.float32)
seg_target = torch.tensor([[0, 1, 2, 1], [2, 2, 0, -100]])
print(F.cross_entropy(seg_logits, seg_target), F.cross_entropy(seg_logits, seg_target, reduction="none"))

# multi-label with BCEWithLogitsLoss and pos_weight
ml_logits = torch.tensor(rng.normal(size=(5, 3)), dtype=torch.float32, requires_grad=True)
ml_target = torch.tensor([[1, 0, 0], [0, 1, 1], [1, 1, 0], [0, 0, 0], [1, 0, 1]], dtype=torch.float32)
pos_weight = torch.tensor([2.0, 0.5, 3.0])
for crit in (nn.BCEWithLogitsLoss(), nn.BCEWithLogitsLoss(pos_weight=pos_weight),
             nn.BCEWithLogitsLoss(weight=torch.tensor([1.0, 0.0, 2.0]), reduction="sum"),
             nn.BCEWithLogitsLoss(pos_weight=pos_weight, reduction="none")):
    ml_logits.grad = None
    loss = crit(ml_logits, ml_target)
    loss.sum().backward()
    print(loss.detach(), ml_logits.grad[0])
probs = torch.sigmoid(ml_logits)
print(nn.BCELoss()(probs, ml_target), F.binary_cross_entropy(probs, ml_target, weight=pos_weight))
preds = (probs > 0.5).float()
tp = (preds * ml_target).sum(0)
print("per-label precision", tp / preds.sum(0).clamp(min=1), "recall", tp / ml_target.sum(0))
print("exact match", (preds == ml_target).all(dim=1).float().mean())

# KLDivLoss: batchmean, log_target both ways
p_log = F.log_softmax(torch.tensor(rng.normal(size=(4, 5)), dtype=torch.float32), dim=1)
q = F.softmax(torch.tensor(rng.normal(size=(4, 5)), dtype=torch.float32), dim=1)
kl = nn.KLDivLoss(reduction="batchmean")
print(kl(p_log, q), nn.KLDivLoss(reduction="batchmean", log_target=True)(p_log, q.log()))
print(nn.KLDivLoss(reduction="sum")(p_log, q), nn.KLDivLoss(reduction="mean")(p_log, q))
print(nn.KLDivLoss(reduction="none", log_target=True)(p_log, q.log())[0])
print((q * (q.log() - p_log)).sum() / 4)
print(F.kl_div(p_log, torch.tensor([[0.0, 0.5, 0.5, 0.0, 0.0]]).expand(4, 5), reduction="batchmean"))

# accuracy, top-k, precision per class, confusion matrix by tensor ops
probs = F.softmax(logits, dim=1)
print(probs)
print(torch.allclose(probs.sum(dim=1), torch.ones(6)), probs.max(dim=1))
pred = logits.argmax(dim=1)
print(pred, pred.eq(target), pred.eq(target).sum().item(), pred.eq(target).float().mean())
values, indices = torch.topk(logits, k=2, dim=1)
print(values, indices)
print(torch.topk(logits, 2, dim=1, largest=False).indices, torch.topk(logits[0], 3).values)
top2 = indices.eq(target.view(-1, 1)).any(dim=1)
print("top-2 accuracy", top2.float().mean().item(), top2)
correct = (indices == target.unsqueeze(1)).sum().float()
print(correct, correct / target.size(0) * 100)
conf = torch.zeros(4, 4, dtype=torch.long)
for t_, p_ in zip(target, pred):
    conf[t_, p_] += 1
print(conf)
precision = conf.diag().float() / conf.sum(0).clamp(min=1).float()
recall = conf.diag().float() / conf.sum(1).float()
print(precision, recall, 2 * precision * recall / (precision + recall + 1e-8))
print(torch.bincount(target, minlength=5), torch.bincount(pred, weights=probs.max(1).values.detach()))

# labels stored as uint8 (a common dataset dtype) are valid class indices
print(F.cross_entropy(logits, target.to(torch.uint8)), nn.NLLLoss()(log_probs, target.byte()))
print((pred == target).type(torch.FloatTensor).mean(), pred.type(), pred.eq(target).type("torch.DoubleTensor").sum())

# the other multi-class and multi-label losses
print(nn.MultiLabelSoftMarginLoss()(ml_logits, ml_target), nn.MultiLabelSoftMarginLoss(weight=pos_weight,
      reduction="none")(ml_logits, ml_target))
print(nn.MultiLabelSoftMarginLoss(), nn.MultiMarginLoss(p=2, margin=0.5))
for crit in (nn.MultiMarginLoss(), nn.MultiMarginLoss(p=2, margin=0.5, weight=weights),
             nn.MultiMarginLoss(reduction="none"), nn.SoftMarginLoss()):
    logits.grad = None
    loss = crit(logits, target) if not isinstance(crit, nn.SoftMarginLoss) else crit(
        logits, torch.where(torch.nn.functional.one_hot(target, 4) > 0, 1.0, -1.0))
    loss.sum().backward()
    print(loss.detach(), loss.grad_fn.name(), logits.grad[0])
emb_a, emb_b = logits[:3], logits[3:]
pair = torch.tensor([1, -1, 1])
print(F.cosine_embedding_loss(emb_a, emb_b, pair, margin=0.1), nn.CosineEmbeddingLoss(reduction="none")(emb_a, emb_b, pair))
print(F.cosine_similarity(emb_a, emb_b), F.normalize(emb_a, dim=1).norm(dim=1))

# sorting scores: values keep their graph
ranked = probs[:, 1].sort(descending=True)
print(ranked.values, ranked.indices, probs[:, 1].argsort(descending=True))
print(probs[:, 1].kthvalue(2), probs.max(1).values.median())

# deliberate mistakes
try:
    nn.BCEWithLogitsLoss()(ml_logits, ml_target.long())
except RuntimeError as e:
    print(type(e).__name__ + ":", str(e).splitlines()[0].split(" (")[0])
try:
    nn.BCELoss()(probs.detach()[:, 0], target.float().clamp(max=1).double())
except RuntimeError as e:
    print(type(e).__name__ + ":", str(e).splitlines()[0].split(" (")[0])
try:
    nn.MultiMarginLoss()(logits, torch.tensor([0, 1, 2, 3, 4, 0]))
except RuntimeError as e:
    print(type(e).__name__ + ":", str(e).splitlines()[0].split(" (")[0])
try:
    nn.CrossEntropyLoss()(logits, target.float())
except RuntimeError as e:
    print(type(e).__name__ + ":", str(e).splitlines()[0].split(" (")[0])
try:
    nn.CrossEntropyLoss()(logits, torch.tensor([0, 1, 2]))
except ValueError as e:
    print(type(e).__name__ + ":", str(e).splitlines()[0].split(" (")[0])
try:
    nn.BCEWithLogitsLoss()(ml_logits, ml_target[:, :2])
except ValueError as e:
    print(type(e).__name__ + ":", str(e).splitlines()[0].split(" (")[0])
try:
    nn.NLLLoss()(log_probs, torch.tensor([0, 1, 2, 3, 4, 5]))
except IndexError as e:
    print(type(e).__name__ + ":", str(e).splitlines()[0].split(" (")[0])

torch.set_printoptions(profile="default")  # (print options are global: leave the defaults)
