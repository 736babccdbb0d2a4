"""nn.Transformer (encoder-decoder): PyTorch's parameter names, masks, and a few training
steps on a toy copy task that match torch's losses from the same initial weights."""
import numpy as np
import pytest
import torch

import lazytensor as lt
from helpers import using
from nn_helpers import assert_close, copy_weights, needs_autograd

VOCAB, WIDTH = 11, 16


def _model(m, batch_first: bool = True, norm_first: bool = False):
    class CopyModel(m.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = m.nn.Embedding(VOCAB, WIDTH)
            self.transformer = m.nn.Transformer(WIDTH, 2, 2, 2, 32, dropout=0.0, batch_first=batch_first,
                                                norm_first=norm_first)
            self.head = m.nn.Linear(WIDTH, VOCAB)

        def forward(self, src, tgt, src_pad, tgt_pad):
            mask = m.nn.Transformer.generate_square_subsequent_mask(tgt.shape[1])
            if not batch_first:
                src, tgt = src.T, tgt.T
            out = self.transformer(self.embed(src), self.embed(tgt), tgt_mask=mask, src_key_padding_mask=src_pad,
                                   tgt_key_padding_mask=tgt_pad, memory_key_padding_mask=src_pad)
            return self.head(out if batch_first else out.transpose(0, 1))
    m.manual_seed(0)
    return CopyModel()


def _batch(seed: int):
    """Sequences to copy (1..VOCAB-1), the target shifted right after a start token 0, and
    padding at the end of the second sequence."""
    rng = np.random.default_rng(seed)
    src = rng.integers(1, VOCAB, (3, 7))
    tgt_in = np.concatenate([np.zeros((3, 1), np.int64), src[:, :-1]], 1)
    pad = np.zeros((3, 7), bool)
    pad[1, 5:] = True
    return src, tgt_in, pad


def _train(m, model, steps: int = 5) -> list[float]:
    opt = m.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for step in range(steps):
        src, tgt_in, pad = (m.tensor(a) for a in _batch(step))
        logits = model(src, tgt_in, pad, pad)
        loss = m.nn.functional.cross_entropy(logits.reshape(-1, VOCAB), src.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def test_the_transformer_has_pytorch_s_parameter_names():
    ours = set(_model(lt).state_dict())
    assert ours == set(_model(torch).state_dict())
    assert "transformer.decoder.layers.1.multihead_attn.in_proj_weight" in ours
    assert "transformer.encoder.norm.weight" in ours and "transformer.decoder.norm.bias" in ours


def test_the_square_subsequent_mask_is_torch_s():
    got = lt.nn.Transformer.generate_square_subsequent_mask(4).numpy()
    np.testing.assert_array_equal(got, torch.nn.Transformer.generate_square_subsequent_mask(4).numpy())


@needs_autograd
@pytest.mark.parametrize("batch_first, norm_first", [(True, False), (False, True)])
def test_training_on_a_copy_task_matches_torch(device, batch_first, norm_first):
    ref = _model(torch, batch_first, norm_first)
    want = _train(torch, ref)
    with using(device, True):
        model = copy_weights(_model(torch, batch_first, norm_first), _model(lt, batch_first, norm_first))
        got = _train(lt, model)
    np.testing.assert_allclose(got, want, rtol=2e-4)
    assert got[-1] < got[0]
    ours = model.state_dict()
    for name, value in ref.state_dict().items():
        got, want = ours[name].numpy(), value.numpy()
        if name.endswith("in_proj_bias"):
            # the keys' bias has a zero gradient in exact arithmetic (a row of scores moves by
            # one constant), so Adam's steps on it follow rounding noise: left out
            got, want = np.delete(got, np.s_[WIDTH:2 * WIDTH]), np.delete(want, np.s_[WIDTH:2 * WIDTH])
        assert_close(got, want, rtol=2e-3, atol=2e-4, what=name)


def test_mismatched_batches_are_refused_naming_both_shapes():
    model = lt.nn.Transformer(8, 2, 1, 1, 16, dropout=0.0, batch_first=True)
    with pytest.raises(RuntimeError, match=r"batch number.*\(2, 3, 8\).*\(4, 3, 8\)"):
        model(lt.randn(2, 3, 8), lt.randn(4, 3, 8))
