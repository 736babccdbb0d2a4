"""The character transformer of bench_kernels (its training step) and bench_first_call (greedy
generation), written once for lazytensor and torch (`m` is either module). It imports neither,
so a process that times lazytensor does not carry torch's objects (its garbage collector
would walk them)."""


def char_model(m, vocab, context, d_model, heads, layers):
    layer = m.nn.TransformerEncoderLayer(d_model, heads, 4 * d_model, dropout=0.0, batch_first=True,
                                         norm_first=True, activation="gelu")

    class CharTransformer(m.nn.Module):
        def __init__(self):
            super().__init__()
            self.tok, self.pos = m.nn.Embedding(vocab, d_model), m.nn.Embedding(context, d_model)
            self.blocks = m.nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
            self.norm, self.head = m.nn.LayerNorm(d_model), m.nn.Linear(d_model, vocab)

        def forward(self, idx):
            x = self.tok(idx) + self.pos(m.arange(idx.shape[1], device=idx.device))
            t = idx.shape[1]
            causal = m.triu(m.full((t, t), float("-inf"), device=idx.device), diagonal=1)
            return self.head(self.norm(self.blocks(x, mask=causal, is_causal=True)))
    return CharTransformer()
