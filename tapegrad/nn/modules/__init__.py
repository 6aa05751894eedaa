"""The layer classes of tapegrad.nn (torch.nn's names)."""

from .activation import (CELU, ELU, GELU, SELU, Hardsigmoid, Hardswish, Hardtanh, LeakyReLU,
                         LogSigmoid, LogSoftmax, Mish, ReLU, ReLU6, Sigmoid, SiLU, Softmax,
                         Softmin, Softplus, Softsign, Tanh, Tanhshrink)
from .attention import MultiheadAttention, TransformerEncoderLayer
from .conv import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d
from .container import ModuleDict, ModuleList, Sequential
from .parameter_container import ParameterDict, ParameterList
from .dropout import Dropout, Dropout1d, Dropout2d
from .flatten import Flatten, Unflatten
from .linear import Bilinear, Identity, Linear
from .layers2 import (GLU, AdaptiveMaxPool1d, AdaptiveMaxPool2d, CircularPad1d, CircularPad2d,
                      CircularPad3d, ConstantPad1d, ConstantPad2d, ConstantPad3d, Fold,
                      InstanceNorm1d, InstanceNorm2d, InstanceNorm3d, LocalResponseNorm,
                      PixelShuffle, PixelUnshuffle, PReLU, ReflectionPad1d, ReflectionPad2d,
                      ReflectionPad3d, ReplicationPad1d, ReplicationPad2d, ReplicationPad3d,
                      Softmax2d, Threshold, TransformerEncoder, TripletMarginLoss, Unfold,
                      ZeroPad1d, ZeroPad2d, ZeroPad3d)
from .layers3 import (CTCLoss, Conv3d, EmbeddingBag, LazyLinear, Transformer,
                      TransformerDecoder, TransformerDecoderLayer, UninitializedParameter)
from .loss import (BCELoss, BCEWithLogitsLoss, CosineEmbeddingLoss, CosineSimilarity,
                   CrossEntropyLoss, GaussianNLLLoss, HingeEmbeddingLoss, HuberLoss,
                   KLDivLoss, L1Loss, MarginRankingLoss, MSELoss, MultiLabelSoftMarginLoss,
                   MultiMarginLoss, NLLLoss, PairwiseDistance, PoissonNLLLoss, SmoothL1Loss,
                   SoftMarginLoss)
from .module import Module
from .normalization import BatchNorm1d, BatchNorm2d, GroupNorm, LayerNorm
from .pooling import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AvgPool1d, AvgPool2d, MaxPool1d,
                      MaxPool2d)
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase
from .sparse import Embedding
from .upsample import Upsample, UpsamplingBilinear2d, UpsamplingNearest2d

__all__ = [
    "Module", "Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict",
    "Identity", "Linear", "Bilinear", "Flatten", "Unflatten", "Dropout", "Dropout1d",
    "Dropout2d", "Embedding", "LayerNorm", "BatchNorm1d", "BatchNorm2d",
    "GroupNorm", "ReLU", "LeakyReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish",
    "Sigmoid", "Tanh", "Softplus", "Softmax", "LogSoftmax", "Softmin", "Hardtanh", "ReLU6",
    "Hardsigmoid", "Hardswish", "LogSigmoid", "Softsign", "Tanhshrink", "L1Loss", "MSELoss",
    "HuberLoss", "SmoothL1Loss", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss",
    "NLLLoss", "KLDivLoss", "CosineEmbeddingLoss", "MarginRankingLoss", "HingeEmbeddingLoss",
    "SoftMarginLoss", "PoissonNLLLoss", "CosineSimilarity", "PairwiseDistance",
    "MultiLabelSoftMarginLoss", "MultiMarginLoss", "GaussianNLLLoss",
    "Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d",
    "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d",
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d",
    "Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d", "MultiheadAttention",
    "TransformerEncoderLayer",
    "RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell",
    # layers2.py
    "ZeroPad1d", "ZeroPad2d", "ZeroPad3d", "ConstantPad1d", "ConstantPad2d", "ConstantPad3d",
    "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d",
    "ReplicationPad2d", "ReplicationPad3d", "CircularPad1d", "CircularPad2d", "CircularPad3d",
    "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", "LocalResponseNorm", "PReLU", "GLU",
    "Threshold", "Softmax2d", "PixelShuffle", "PixelUnshuffle", "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d", "Unfold", "Fold", "TripletMarginLoss", "TransformerEncoder",
    # layers3.py
    "Conv3d", "LazyLinear", "UninitializedParameter", "EmbeddingBag", "TransformerDecoderLayer",
    "TransformerDecoder", "Transformer", "CTCLoss",
]
