"""Each layer's forward output and gradients (parameters and input) equal PyTorch's for the
same weights (torch's state_dict copied in), on every device."""
import numpy as np
import pytest
import torch

import lazytensor as lt
from helpers import using
from nn_helpers import assert_close, copy_weights, data, needs_autograd, to_lt


def _act(name, *args, shape=(3, 5), **kw):
    return lambda: (getattr(torch.nn, name)(*args, **kw), getattr(lt.nn, name)(*args, **kw), [shape])


# name -> factory returning (torch module, lazytensor module, input shapes [, int inputs])
CASES = {
    "Linear": lambda: (torch.nn.Linear(5, 3), lt.nn.Linear(5, 3), [(4, 5)]),
    "Linear_nobias_3d": lambda: (torch.nn.Linear(5, 3, bias=False), lt.nn.Linear(5, 3, bias=False), [(2, 4, 5)]),
    "Conv1d": lambda: (torch.nn.Conv1d(3, 4, 3, stride=2, padding=1), lt.nn.Conv1d(3, 4, 3, stride=2, padding=1),
                       [(2, 3, 9)]),
    "Conv2d_groups_stride": lambda: (torch.nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2),
                                     lt.nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2), [(2, 4, 7, 7)]),
    "Conv2d_dilation": lambda: (torch.nn.Conv2d(3, 4, (3, 2), padding=2, dilation=2, bias=False),
                                lt.nn.Conv2d(3, 4, (3, 2), padding=2, dilation=2, bias=False), [(2, 3, 6, 5)]),
    "ConvTranspose2d_stride_output_padding": lambda: (
        torch.nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1),
        lt.nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1), [(2, 4, 5, 6)]),
    "ConvTranspose2d_groups_dilation": lambda: (
        torch.nn.ConvTranspose2d(4, 6, (3, 2), stride=(2, 3), padding=(0, 1), groups=2, dilation=(1, 2)),
        lt.nn.ConvTranspose2d(4, 6, (3, 2), stride=(2, 3), padding=(0, 1), groups=2, dilation=(1, 2)),
        [(2, 4, 5, 4)]),
    "ConvTranspose1d_unbatched": lambda: (torch.nn.ConvTranspose1d(3, 5, 4, stride=3, padding=2, bias=False),
                                          lt.nn.ConvTranspose1d(3, 5, 4, stride=3, padding=2, bias=False),
                                          [(3, 7)]),
    "ConvTranspose3d": lambda: (torch.nn.ConvTranspose3d(2, 3, 2, stride=2), lt.nn.ConvTranspose3d(2, 3, 2, stride=2),
                                [(1, 2, 3, 2, 3)]),
    "MaxPool2d": lambda: (torch.nn.MaxPool2d(3, 2, padding=1), lt.nn.MaxPool2d(3, 2, padding=1), [(2, 3, 7, 7)]),
    "AvgPool2d": lambda: (torch.nn.AvgPool2d(2), lt.nn.AvgPool2d(2), [(2, 3, 6, 6)]),
    "BatchNorm1d": lambda: (torch.nn.BatchNorm1d(4), lt.nn.BatchNorm1d(4), [(6, 4)]),
    "BatchNorm2d": lambda: (torch.nn.BatchNorm2d(3), lt.nn.BatchNorm2d(3), [(2, 3, 4, 4)]),
    "LayerNorm": lambda: (torch.nn.LayerNorm(6), lt.nn.LayerNorm(6), [(2, 3, 6)]),
    "RMSNorm": lambda: (torch.nn.RMSNorm(6), lt.nn.RMSNorm(6), [(2, 3, 6)]),
    "ReLU": _act("ReLU"),
    "GELU": _act("GELU"),
    "GELU_tanh": _act("GELU", approximate="tanh"),
    "SiLU": _act("SiLU"),
    "Tanh": _act("Tanh"),
    "Sigmoid": _act("Sigmoid"),
    "Softmax": _act("Softmax", dim=1),
    "Flatten": _act("Flatten", shape=(2, 3, 4)),
    "Identity": _act("Identity"),
    "TransformerDecoderLayer": lambda: (
        torch.nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0),
        lt.nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0), [(4, 2, 8), (5, 2, 8)]),
    "TransformerDecoderLayer_norm_first_gelu_batch_first": lambda: (
        torch.nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, activation="gelu", norm_first=True, batch_first=True),
        lt.nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, activation="gelu", norm_first=True, batch_first=True),
        [(2, 4, 8), (2, 5, 8)]),
    "MultiheadAttention": lambda: (torch.nn.MultiheadAttention(8, 2), lt.nn.MultiheadAttention(8, 2),
                                   [(5, 2, 8)]),
    "MultiheadAttention_batch_first": lambda: (torch.nn.MultiheadAttention(8, 2, batch_first=True),
                                               lt.nn.MultiheadAttention(8, 2, batch_first=True), [(2, 5, 8)]),
    "TransformerEncoderLayer": lambda: (
        torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0),
        lt.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0), [(5, 2, 8)]),
    "TransformerEncoderLayer_norm_first_gelu": lambda: (
        torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, activation="gelu", norm_first=True, batch_first=True),
        lt.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, activation="gelu", norm_first=True, batch_first=True),
        [(2, 5, 8)]),
}


# variants whose kernels differ little from a sibling's: their gradients run on numpy only
CL_GRAD_SKIP = {"MultiheadAttention", "TransformerEncoderLayer", "Linear_nobias_3d", "GELU_tanh", "Identity",
                "Flatten", "ConvTranspose3d", "ConvTranspose1d_unbatched"}


def _call(mod, inputs):
    if isinstance(mod, (torch.nn.MultiheadAttention, lt.nn.MultiheadAttention)):
        return mod(inputs[0], inputs[0], inputs[0])[0]
    return mod(*inputs)


def _build(case):
    torch.manual_seed(0)
    tmod, lmod, shapes = CASES[case]()
    copy_weights(tmod, lmod)
    return tmod, lmod, [data(s, seed=i + 1) for i, s in enumerate(shapes)]


@pytest.mark.parametrize("case", list(CASES))
def test_forward_matches_torch(case, device):
    with using(device, True):
        tmod, lmod, xs = _build(case)
        ref = _call(tmod, xs)
        got = _call(lmod, [to_lt(x) for x in xs])
        assert_close(got, ref, what=f"{case} forward on {device}")


@needs_autograd
@pytest.mark.parametrize("case", list(CASES))
def test_gradients_match_torch(case, device):
    if device == "cl" and case in CL_GRAD_SKIP:
        pytest.skip("covered on cl by its sibling case (keeps OpenCL compile time down)")
    with using(device, True):
        tmod, lmod, xs = _build(case)
        for x in xs:
            x.requires_grad_(True)
        ref = _call(tmod, xs)
        g = data(tuple(ref.shape), seed=99)
        (ref * g).sum().backward()
        lxs = [to_lt(x, requires_grad=True) for x in xs]
        out = _call(lmod, lxs)
        (out * to_lt(g)).sum().backward()
        for i, (lx, x) in enumerate(zip(lxs, xs)):
            assert_close(lx.grad, x.grad, what=f"{case} input[{i}] grad on {device}")
        tparams = dict(tmod.named_parameters())
        for name, p in lmod.named_parameters():
            assert p.grad is not None, f"{case}: no gradient for {name}"
            assert_close(p.grad, tparams[name].grad, what=f"{case} {name}.grad on {device}")


def test_embedding_forward_and_padding_grad(device):
    with using(device, True):
        torch.manual_seed(0)
        tmod, lmod = torch.nn.Embedding(10, 4, padding_idx=1), lt.nn.Embedding(10, 4, padding_idx=1)
        copy_weights(tmod, lmod)
        idx = torch.tensor([[1, 3, 3, 9], [0, 1, 2, 5]])
        ref = tmod(idx)
        ref.sum().backward()
        out = lmod(lt.tensor(idx.numpy()))
        assert_close(out, ref, what="embedding forward")
        if hasattr(lt, "no_grad"):
            out.sum().backward()
            assert_close(lmod.weight.grad, tmod.weight.grad, what="embedding weight grad (padding row zero)")


def test_embedding_init_zeroes_padding_row():
    m = lt.nn.Embedding(6, 3, padding_idx=2)
    assert np.all(m.weight.numpy()[2] == 0) and np.any(m.weight.numpy()[0] != 0)


def test_batchnorm_updates_running_stats_in_training(device):
    with using(device, True):
        tmod, lmod = torch.nn.BatchNorm2d(3, momentum=0.2), lt.nn.BatchNorm2d(3, momentum=0.2)
        xs = [data((2, 3, 4, 4), seed=s) for s in (1, 2)]
        for x in xs:
            tmod(x)
            lmod(to_lt(x))
        assert_close(lmod.running_mean, tmod.running_mean, what="running_mean")
        assert_close(lmod.running_var, tmod.running_var, what="running_var")
        assert int(lmod.num_batches_tracked.item()) == 2


def test_batchnorm_cumulative_average_counts_the_batches_in_num_batches_tracked(device):
    """momentum=None averages over num_batches_tracked as it is, also after it is set in place."""
    with using(device, True):
        tmod, lmod = torch.nn.BatchNorm2d(3, momentum=None), lt.nn.BatchNorm2d(3, momentum=None)
        for step, seed in enumerate((1, 2, 3)):
            if step == 1:
                tmod.num_batches_tracked.fill_(4)
                lmod.num_batches_tracked.fill_(4)
            x = data((2, 3, 4, 4), seed=seed)
            tmod(x)
            lmod(to_lt(x))
        assert_close(lmod.running_mean, tmod.running_mean, what="running_mean")
        assert_close(lmod.running_var, tmod.running_var, what="running_var")
        assert int(lmod.num_batches_tracked.item()) == 6


def test_batchnorm_eval_uses_running_stats(device):
    with using(device, True):
        tmod, lmod = torch.nn.BatchNorm1d(4), lt.nn.BatchNorm1d(4)
        x = data((6, 4), seed=3)
        tmod(x)
        lmod(to_lt(x))
        tmod.eval()
        lmod.eval()
        x2 = data((5, 4), seed=4)
        assert_close(lmod(to_lt(x2)), tmod(x2), what="eval-mode batchnorm")


def test_mha_masks_and_weights(device):
    with using(device, True):
        torch.manual_seed(0)
        tmod, lmod = torch.nn.MultiheadAttention(8, 2, batch_first=True), lt.nn.MultiheadAttention(8, 2, batch_first=True)
        copy_weights(tmod, lmod)
        q, kv = data((2, 3, 8), seed=1), data((2, 4, 8), seed=2)
        attn_mask = torch.tensor([[False, True, False, False], [False, False, True, True], [True, False, False, False]])
        kpm = torch.tensor([[False, False, False, True], [False, False, False, False]])
        ref, ref_w = tmod(q, kv, kv, key_padding_mask=kpm, attn_mask=attn_mask)
        out, w = lmod(to_lt(q), to_lt(kv), to_lt(kv), key_padding_mask=lt.tensor(kpm.numpy()),
                      attn_mask=lt.tensor(attn_mask.numpy()))
        assert_close(out, ref, what="masked attention output")
        assert_close(w, ref_w, what="averaged attention weights")


def test_transformer_encoder_layer_causal_mask(device):
    with using(device, True):
        torch.manual_seed(0)
        tmod = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
        lmod = lt.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
        copy_weights(tmod, lmod)
        x = data((2, 5, 8), seed=1)
        mask = torch.nn.Transformer.generate_square_subsequent_mask(5)
        ref = tmod(x, src_mask=mask, is_causal=True)
        got = lmod(to_lt(x), src_mask=lt.tensor(mask.numpy()), is_causal=True)
        assert_close(got, ref, what="causal encoder layer")


def test_dropout_train_and_eval():
    m = lt.nn.Dropout(0.5)
    x = lt.ones(2000)
    y = m(x).numpy()
    assert set(np.unique(y)) <= {0.0, 2.0}
    assert 0.4 < (y == 0).mean() < 0.6
    m.eval()
    assert np.all(m(x).numpy() == 1.0)


def test_default_init_matches_torch_distribution():
    """PyTorch's default initialisation: Linear/Conv weights kaiming_uniform(a=sqrt(5)) -> U(+-1/sqrt(fan_in))."""
    lt.manual_seed(0)
    lin = lt.nn.Linear(400, 300)
    w, b = lin.weight.numpy(), lin.bias.numpy()
    bound = 1 / np.sqrt(400)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert abs(w.std() - bound / np.sqrt(3)) < 0.02 * bound
    assert np.abs(b).max() <= bound
    conv = lt.nn.Conv2d(4, 8, 3)
    assert np.abs(conv.weight.numpy()).max() <= 1 / np.sqrt(4 * 9)
    mha = lt.nn.MultiheadAttention(8, 2)
    assert np.all(mha.in_proj_bias.numpy() == 0) and np.all(mha.out_proj.bias.numpy() == 0)
    ln = lt.nn.LayerNorm(5)
    assert np.all(ln.weight.numpy() == 1) and np.all(ln.bias.numpy() == 0)


def test_conv_transpose_output_size_picks_the_output_padding():
    torch.manual_seed(0)
    tmod, lmod = torch.nn.ConvTranspose2d(2, 3, 3, stride=3), lt.nn.ConvTranspose2d(2, 3, 3, stride=3)
    copy_weights(tmod, lmod)
    x = data((1, 2, 4, 4))
    expected = tmod(torch.tensor(x), output_size=[13, 14])
    assert_close(lmod(lt.tensor(x), output_size=[13, 14]), expected)
    with pytest.raises(ValueError, match="valid sizes for dimension 0 range from 12 to 14"):
        lmod(lt.tensor(x), output_size=(15, 14))


def test_conv_transpose_refuses_an_output_padding_as_large_as_the_stride():
    with pytest.raises(RuntimeError, match=r"conv_transpose2d: output padding \(2, 2\) must be smaller"):
        lt.nn.functional.conv_transpose2d(lt.ones(1, 2, 3, 3), lt.ones(2, 1, 3, 3), stride=2, output_padding=2)
