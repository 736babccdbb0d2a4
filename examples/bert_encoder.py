"""A BERT-style encoder whose parameter names follow Hugging Face's `BertModel`
(embeddings.word_embeddings, encoder.layer.N.attention.self.query, ...), so a
safetensors checkpoint written by PyTorch / transformers loads with load_state_dict.

The same source builds the model for lazytensor or for torch: `build(lt)` or `build(torch)`.

Run: python examples/bert_encoder.py checkpoint.safetensors   (prints the [CLS] vector)
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass


@dataclass
class BertConfig:
    vocab_size: int = 100
    hidden_size: int = 32
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    intermediate_size: int = 64
    max_position_embeddings: int = 64
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12


def build(torch):
    """The encoder classes written against `torch` (lazytensor or PyTorch: same API)."""
    nn, F = torch.nn, torch.nn.functional

    class Embeddings(nn.Module):
        def __init__(self, c: BertConfig):
            super().__init__()
            self.word_embeddings = nn.Embedding(c.vocab_size, c.hidden_size)
            self.position_embeddings = nn.Embedding(c.max_position_embeddings, c.hidden_size)
            self.token_type_embeddings = nn.Embedding(c.type_vocab_size, c.hidden_size)
            self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)

        def forward(self, ids):
            positions = torch.arange(ids.shape[1]).unsqueeze(0)
            types = torch.zeros(*ids.shape, dtype=torch.long)
            x = self.word_embeddings(ids) + self.position_embeddings(positions) + self.token_type_embeddings(types)
            return self.LayerNorm(x)

    class SelfAttention(nn.Module):
        def __init__(self, c: BertConfig):
            super().__init__()
            self.heads = c.num_attention_heads
            self.query = nn.Linear(c.hidden_size, c.hidden_size)
            self.key = nn.Linear(c.hidden_size, c.hidden_size)
            self.value = nn.Linear(c.hidden_size, c.hidden_size)

        def split(self, x):
            b, t, d = x.shape
            return x.reshape(b, t, self.heads, d // self.heads).transpose(1, 2)

        def forward(self, x):
            q, k, v = self.split(self.query(x)), self.split(self.key(x)), self.split(self.value(x))
            scores = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(q.shape[-1]))
            out = scores.softmax(-1) @ v
            b, h, t, e = out.shape
            return out.transpose(1, 2).reshape(b, t, h * e)

    class Residual(nn.Module):
        """dense -> add the input -> LayerNorm (BERT's 'output' blocks)."""

        def __init__(self, d_in: int, d_out: int, eps: float):
            super().__init__()
            self.dense = nn.Linear(d_in, d_out)
            self.LayerNorm = nn.LayerNorm(d_out, eps=eps)

        def forward(self, x, residual):
            return self.LayerNorm(self.dense(x) + residual)

    class Attention(nn.Module):
        def __init__(self, c: BertConfig):
            super().__init__()
            setattr(self, "self", SelfAttention(c))  # Hugging Face names this submodule 'self'
            self.output = Residual(c.hidden_size, c.hidden_size, c.layer_norm_eps)

        def forward(self, x):
            return self.output(getattr(self, "self")(x), x)

    class Intermediate(nn.Module):
        def __init__(self, c: BertConfig):
            super().__init__()
            self.dense = nn.Linear(c.hidden_size, c.intermediate_size)

        def forward(self, x):
            return F.gelu(self.dense(x))

    class Layer(nn.Module):
        def __init__(self, c: BertConfig):
            super().__init__()
            self.attention = Attention(c)
            self.intermediate = Intermediate(c)
            self.output = Residual(c.intermediate_size, c.hidden_size, c.layer_norm_eps)

        def forward(self, x):
            x = self.attention(x)
            return self.output(self.intermediate(x), x)

    class Encoder(nn.Module):
        def __init__(self, c: BertConfig):
            super().__init__()
            self.layer = nn.ModuleList([Layer(c) for _ in range(c.num_hidden_layers)])

        def forward(self, x):
            for layer in self.layer:
                x = layer(x)
            return x

    class BertEncoder(nn.Module):
        def __init__(self, c: BertConfig):
            super().__init__()
            self.embeddings = Embeddings(c)
            self.encoder = Encoder(c)

        def forward(self, ids):
            return self.encoder(self.embeddings(ids))

    return BertEncoder


def main(path: str) -> None:
    import lazytensor as lt
    model = build(lt)(BertConfig())
    model.load_state_dict(lt.load(path))
    ids = lt.tensor([[1, 5, 7, 9, 2]])
    print(model(ids)[0, 0])


if __name__ == "__main__":
    main(sys.argv[1])
