"""A BERT classifier that reads the mean of its token vectors instead of the ``[CLS]`` vector.

Sentence encoders such as the packaged MiniLM are trained to represent a text by the mean of its token
vectors; their ``[CLS]`` vector and pooler were never trained for that.  Starting a classifier from the
representation the encoder was built for makes fine-tuning on a few hundred or thousand examples converge
faster and further.  The class keeps ``BertForSequenceClassification``'s weights, configuration and outputs,
so saving, loading, distillation and ONNX export treat it like any other classifier.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import BertForSequenceClassification
from transformers.modeling_outputs import SequenceClassifierOutput


class MeanPooledBertClassifier(BertForSequenceClassification):
    """``BertForSequenceClassification`` over the attention-masked mean of the last hidden states."""

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.bert.pooler = None  # unused: the mean of the token vectors replaces it

    def pooled(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """The attention-masked mean of the last hidden states: one vector per text."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask, return_dict=True).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> SequenceClassifierOutput:
        logits = self.classifier(self.dropout(self.pooled(input_ids, attention_mask)))
        loss = None
        if labels is not None:
            if self.config.problem_type == "multi_label_classification":
                loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype))
            else:
                loss = torch.nn.functional.cross_entropy(logits.view(-1, self.num_labels), labels.view(-1))
        return SequenceClassifierOutput(loss=loss, logits=logits)
