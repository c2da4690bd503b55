"""Layers for building a Transformer on the Tensor engine (see docs/nn.md).

`from tinygrad_tf import nn`; `from tinygrad_tf.nn import functional as F`.
"""
from . import functional, init
from .attention import MultiHeadAttention
from .functional import manual_seed
from .layers import (
    GELU,
    BatchNorm1d,
    Dropout,
    Embedding,
    FeedForward,
    LayerNorm,
    Linear,
    ReLU,
    Sigmoid,
    SiLU,
    Tanh,
)
from .losses import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, KLDivLoss, MSELoss, NLLLoss
from .module import Module, ModuleDict, ModuleList, Parameter, Sequential
from .transformer import DecoderBlock, DecoderOnlyBlock, EncoderBlock, Transformer, TransformerLM

__all__ = [
    "functional", "manual_seed", "Module", "Parameter", "Sequential", "ModuleList", "ModuleDict",
    "Linear", "Embedding", "Dropout", "LayerNorm", "BatchNorm1d", "ReLU", "GELU", "SiLU", "Tanh", "Sigmoid",
    "FeedForward", "MultiHeadAttention", "EncoderBlock", "DecoderBlock", "DecoderOnlyBlock", "Transformer",
    "TransformerLM", "init", "CrossEntropyLoss", "NLLLoss", "MSELoss", "BCELoss", "BCEWithLogitsLoss",
    "KLDivLoss",
]
