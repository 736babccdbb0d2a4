"""A small character-level transformer trained on a text file, printing samples.

Run: python examples/char_transformer.py [--device cl|numpy] [--steps 300] [--text examples/data/hamlet.txt]
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

import lazytensor as lt
import lazytensor.nn as nn
import lazytensor.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))


class CharTransformer(nn.Module):
    def __init__(self, vocab: int, context: int, d_model: int = 32, nhead: int = 2, layers: int = 2) -> None:
        super().__init__()
        self.context = context
        self.tok = nn.Embedding(vocab, d_model)
        self.pos = nn.Embedding(context, d_model)
        layer = nn.TransformerEncoderLayer(d_model, nhead, 4 * d_model, dropout=0.0, batch_first=True,
                                           norm_first=True, activation="gelu")
        self.blocks = nn.TransformerEncoder(layer, layers)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab)

    def forward(self, idx: lt.Tensor) -> lt.Tensor:
        t = idx.shape[1]
        x = self.tok(idx) + self.pos(lt.arange(t, device=idx.device))
        x = self.blocks(x, is_causal=True, mask=None)
        return self.head(self.norm(x))


def sample(model: CharTransformer, stoi: dict, itos: list, prompt: str, n: int) -> str:
    """Greedy-ish sampling with a fixed-size window (one shape: the kernels compile once)."""
    model.eval()
    ctx = model.context
    ids = [stoi.get(c, 0) for c in prompt][-ctx:]
    rng = np.random.default_rng(0)
    with lt.no_grad():
        for _ in range(n):
            window = ([0] * ctx + ids)[-ctx:]
            logits = model(lt.tensor([window]))[0, -1]
            p = F.softmax(logits * 1.25, -1).numpy().astype(np.float64)
            ids.append(int(rng.choice(len(p), p=p / p.sum())))
    model.train()
    return "".join(itos[i] for i in ids)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default=None)
    parser.add_argument("--text", default=os.path.join(HERE, "data", "hamlet.txt"))
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--context", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--d-model", type=int, default=32)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--sample-chars", type=int, default=120)
    args = parser.parse_args(argv)
    if args.device:
        lt.set_default_device(args.device)
    text = open(args.text, encoding="utf-8").read()
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    data = np.array([stoi[c] for c in text], dtype=np.int64)
    print(f"char transformer on '{lt.get_default_device()}': {len(text)} chars, vocab {len(chars)}")
    lt.manual_seed(0)
    rng = np.random.default_rng(0)
    model = CharTransformer(len(chars), args.context, args.d_model, 2, args.layers)
    opt = lt.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    losses = []
    start = time.perf_counter()
    for step in range(args.steps):
        starts = rng.integers(0, len(data) - args.context - 1, args.batch_size)
        xb = np.stack([data[s:s + args.context] for s in starts])
        yb = np.stack([data[s + 1:s + args.context + 1] for s in starts])
        logits = model(lt.tensor(xb))
        loss = F.cross_entropy(logits.reshape(-1, len(chars)), lt.tensor(yb.reshape(-1)))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if step % max(1, args.steps // 10) == 0 or step == args.steps - 1:
            print(f"step {step:4d}  loss {losses[-1]:.4f}")
    elapsed = time.perf_counter() - start
    s = lt.stats()
    print(f"time per step: {elapsed / max(args.steps, 1) * 1e3:.1f} ms; kernels compiled {s.kernels_compiled}, "
          f"launched {s.kernels_launched}")
    if args.sample_chars:
        print("sample:\n" + sample(model, stoi, chars, "To be", args.sample_chars))
    return {"losses": losses}


if __name__ == "__main__":
    main()
