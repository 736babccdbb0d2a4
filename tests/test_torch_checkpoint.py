"""lt.save / lt.load with PyTorch's zip checkpoints (.pt): torch.save'd files load, lt.save'd
files torch.load (weights_only=True and False), and pickled code never runs."""
import io
import os
import pickle
import zipfile
from collections import OrderedDict

import numpy as np
import pytest
import torch

import lazytensor as lt


def _torch_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.LayerNorm(4), torch.nn.Conv2d(2, 3, 3),
                               torch.nn.Embedding(5, 2), torch.nn.BatchNorm1d(4))


def _lt_model():
    return lt.nn.Sequential(lt.nn.Linear(3, 4), lt.nn.LayerNorm(4), lt.nn.Conv2d(2, 3, 3),
                            lt.nn.Embedding(5, 2), lt.nn.BatchNorm1d(4))


def _same(got, want):
    """`got` (lazytensor's) holds what `want` (torch's) does: same containers, keys, exact values."""
    if isinstance(want, torch.Tensor):
        assert isinstance(got, lt.Tensor) and isinstance(got, lt.nn.Parameter) == isinstance(want, torch.nn.Parameter)
        assert tuple(got.shape) == tuple(want.shape) and got.requires_grad == want.requires_grad
        bf16 = want.dtype == torch.bfloat16  # NumPy has no bfloat16: compare as float32
        np.testing.assert_array_equal((got.float() if bf16 else got).detach().numpy(),
                                      (want.float() if bf16 else want).detach().numpy())
    elif isinstance(want, dict):
        assert type(got) is type(want) and list(got) == list(want)
        for k in want:
            _same(got[k], want[k])
    elif isinstance(want, (list, tuple)):
        assert type(got) is type(want) and len(got) == len(want)
        for g, w in zip(got, want):
            _same(g, w)
    else:
        assert type(got) is type(want) and got == want


def _adam_state(model):
    opt = torch.optim.Adam(model.parameters(), lr=0.01, betas=(0.8, 0.9))
    model[0](torch.ones(2, 3)).sum().backward()
    opt.step()
    return opt.state_dict()


# ---- torch.save -> lt.load -----------------------------------------------------------------

def test_torch_state_dict_loads_into_the_matching_model(tmp_path, device):
    tm, lm = _torch_model(), _lt_model()
    torch.save(tm.state_dict(), tmp_path / "model.pt")
    state = lt.load(tmp_path / "model.pt", device=device)
    assert isinstance(state, OrderedDict) and all(v.device.type == device for v in state.values())
    lm.load_state_dict(state)
    _same(lm.state_dict(), tm.state_dict())


def test_torch_optimizer_state_keeps_int_keys_lists_tuples_and_floats(tmp_path, device):
    want = _adam_state(_torch_model())
    torch.save(want, tmp_path / "opt.pt")
    got = lt.load(tmp_path / "opt.pt", map_location=device)
    assert list(got["state"]) == [0, 1] and got["param_groups"][0]["betas"] == (0.8, 0.9)
    _same(got, want)


def test_views_of_one_storage_keep_their_offsets_and_strides(tmp_path, device):
    x = torch.arange(24.0).reshape(4, 6)
    want = {"a": x, "b": x[1:, ::2], "t": x.t(), "row": x[2], "one": x[3, 5], "empty": x[:, :0]}
    torch.save(want, tmp_path / "views.pt")
    _same(lt.load(tmp_path / "views.pt", device=device), want)


# lazytensor widens uint16 to int64, as it does for NumPy arrays
_DTYPES = {"float64": "float64", "float32": "float32", "float16": "float16", "int64": "int64",
           "int32": "int32", "int16": "int16", "int8": "int8", "uint8": "uint8", "bool": "bool",
           "uint16": "int64"}


@pytest.mark.parametrize("name", _DTYPES)
def test_each_dtype_loads_exactly(tmp_path, device, name):
    values = torch.tensor([[0, 1, -37], [74, -100, 127]])
    want = (values.abs() if name in ("uint8", "uint16") else values).to(getattr(torch, name))
    torch.save({"x": want}, tmp_path / "x.pt")
    got = lt.load(tmp_path / "x.pt", device=device)["x"]
    assert got.dtype.name == _DTYPES[name]
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_bfloat16_loads_with_its_exact_values(tmp_path, device):
    want = torch.tensor([[1.5, -2.0], [3.140625, 1e30]], dtype=torch.bfloat16)
    torch.save({"w": want}, tmp_path / "bf16.pt")
    got = lt.load(tmp_path / "bf16.pt", device=device)["w"]
    assert got.dtype == getattr(lt, "bfloat16", lt.float32)
    np.testing.assert_array_equal(got.float().numpy(), want.float().numpy())


def test_zero_dim_tensors_and_parameters_load(tmp_path, device):
    want = {"step": torch.tensor(3.0), "count": torch.tensor(7), "p": torch.nn.Parameter(torch.ones(2)),
            "frozen": torch.nn.Parameter(torch.zeros(1), requires_grad=False), "g": torch.ones(2).requires_grad_()}
    torch.save(want, tmp_path / "misc.pt")
    got = lt.load(tmp_path / "misc.pt", device=device)
    assert tuple(got["step"].shape) == () and got["count"].item() == 7
    _same(got, want)


def test_file_objects_work_both_ways(device):
    tm, lm = _torch_model(), _lt_model()
    buffer = io.BytesIO()
    torch.save(tm.state_dict(), buffer)
    buffer.seek(0)
    lm.load_state_dict(lt.load(buffer, device=device))
    out = io.BytesIO()
    lt.save(lm.state_dict(), out, format="torch")
    out.seek(0)
    _same(lm.state_dict(), torch.load(out, weights_only=True))


# ---- lt.save -> torch.load -----------------------------------------------------------------

@pytest.mark.parametrize("weights_only", [True, False])
def test_lt_state_dict_torch_loads_into_the_torch_model(tmp_path, device, weights_only):
    lm = _lt_model().to(device)
    lt.save(lm.state_dict(), tmp_path / "x.pt")
    got = torch.load(tmp_path / "x.pt", weights_only=weights_only)
    tm = _torch_model()
    tm.load_state_dict(got)
    _same(lm.state_dict(), tm.state_dict())


@pytest.mark.parametrize("name,fmt,is_zip", [("m.pt", None, True), ("m.pth", None, True), ("m.bin", None, True),
                                             ("m.ckpt", None, True), ("m.safetensors", None, False),
                                             ("m.pt", "safetensors", False), ("m.st", "torch", True)])
def test_the_suffix_or_format_picks_the_file_format(tmp_path, name, fmt, is_zip):
    lt.save({"w": lt.ones(2)}, tmp_path / name, format=fmt)
    assert zipfile.is_zipfile(tmp_path / name) == is_zip
    assert lt.load(tmp_path / name)["w"].tolist() == [1.0, 1.0]


def test_storages_are_aligned_so_torch_can_mmap_them(tmp_path):
    lt.save({"a": lt.ones(3), "b": lt.arange(5)}, tmp_path / "x.pth")
    with zipfile.ZipFile(tmp_path / "x.pth") as archive:
        data = [i for i in archive.infolist() if "/data/" in i.filename]
        assert all(i.compress_type == zipfile.ZIP_STORED for i in archive.infolist())
    assert all((i.header_offset + 30 + len(i.filename) + len(i.extra)) % 64 == 0 for i in data)
    got = torch.load(tmp_path / "x.pth", mmap=True, weights_only=True)
    assert got["a"].tolist() == [1.0] * 3 and got["b"].tolist() == list(range(5))


@pytest.mark.parametrize("name", ["float64", "float32", "float16", "int64", "int32", "int16", "int8", "uint8", "bool"])
def test_each_lazytensor_dtype_torch_loads_exactly(tmp_path, name):
    values = (np.arange(-3, 3) * 37).reshape(2, 3).astype(name)
    lt.save({"x": lt.tensor(values), "zero_d": lt.tensor(values[0, 1])}, tmp_path / "x.pt")
    got = torch.load(tmp_path / "x.pt", weights_only=True)
    assert got["x"].dtype == getattr(torch, name) and got["zero_d"].shape == ()
    np.testing.assert_array_equal(got["x"].numpy(), values)
    assert got["zero_d"].item() == values[0, 1]


@pytest.mark.skipif(not hasattr(lt, "bfloat16"), reason="lazytensor has no bfloat16")
def test_bfloat16_tensors_save_as_torch_bfloat16(tmp_path):
    want = torch.tensor([1.5, -2.0, 3.140625], dtype=torch.bfloat16)
    lt.save({"w": lt.tensor(want.float().numpy(), dtype=lt.bfloat16)}, tmp_path / "bf16.pt")
    got = torch.load(tmp_path / "bf16.pt", weights_only=True)["w"]
    assert got.dtype == torch.bfloat16 and torch.equal(got, want)


def test_parameters_and_plain_values_torch_load(tmp_path):
    obj = {"p": lt.nn.Parameter(lt.ones(2)), "frozen": lt.nn.Parameter(lt.zeros(1), requires_grad=False),
           "nested": {1: [0.5, (2, None), "s", b"raw", True], "np": np.float32(1.5)}}
    lt.save(obj, tmp_path / "x.pt")
    got = torch.load(tmp_path / "x.pt", weights_only=True)
    assert isinstance(got["p"], torch.nn.Parameter) and got["p"].requires_grad
    assert isinstance(got["frozen"], torch.nn.Parameter) and not got["frozen"].requires_grad
    assert got["nested"] == {1: [0.5, (2, None), "s", b"raw", True], "np": 1.5}
    _same(lt.load(tmp_path / "x.pt"), got)


def test_lt_optimizer_state_loads_into_a_torch_optimizer(tmp_path):
    lm, tm = _lt_model(), _torch_model()
    tm.load_state_dict(torch.load(_saved(lm.state_dict(), tmp_path / "m.pt"), weights_only=True))
    opt = lt.optim.Adam(lm.parameters(), lr=0.01)
    lm[0](lt.ones(2, 3)).sum().backward()
    opt.step()
    state = torch.load(_saved(opt.state_dict(), tmp_path / "opt.pt"), weights_only=True)
    assert list(state["state"]) == [0, 1] and state["param_groups"][0]["params"] == list(range(9))
    np.testing.assert_array_equal(state["state"][0]["exp_avg"].numpy(), opt.state_dict()["state"][0]["exp_avg"].numpy())
    torch_opt = torch.optim.Adam(tm.parameters())
    torch_opt.load_state_dict(state)
    assert torch_opt.param_groups[0]["lr"] == 0.01


def _saved(obj, path):
    lt.save(obj, path)
    return path


def test_unsupported_objects_are_refused_when_saving(tmp_path):
    with pytest.raises(TypeError, match="cannot write an object of type function"):
        lt.save({"f": print_me}, tmp_path / "x.pt")


def print_me():
    pass


# ---- refusing code -------------------------------------------------------------------------

class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _zip_with_pickle(path, data_pkl: bytes):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", data_pkl)
        archive.writestr("archive/version", b"3\n")


def _tampered(tmp_path, obj, edit) -> str:
    """A torch.save of `obj` with each entry's bytes passed through edit(name, data)."""
    torch.save(obj, tmp_path / "ok.pt")
    with zipfile.ZipFile(tmp_path / "ok.pt") as src, zipfile.ZipFile(tmp_path / "bad.pt", "w") as dst:
        for info in src.infolist():
            dst.writestr(info.filename, edit(info.filename, src.read(info)))
    return tmp_path / "bad.pt"


@pytest.mark.parametrize("weights_only", [True, False])
def test_a_pickle_calling_os_system_is_refused_and_nothing_runs(tmp_path, weights_only):
    marker = tmp_path / "pwned"
    _zip_with_pickle(tmp_path / "evil.pt", pickle.dumps({"w": _Exploit(marker)}, protocol=2))
    with pytest.raises(pickle.UnpicklingError, match=rf"refusing the global {os.system.__module__}\.system"):
        lt.load(tmp_path / "evil.pt", weights_only=weights_only)
    assert not marker.exists()


def test_a_big_endian_checkpoint_loads(tmp_path):
    def to_big_endian(name, data):  # as a big-endian machine's torch.save writes it
        if name.endswith("byteorder"):
            return b"big"
        return np.frombuffer(data, "<f4").astype(">f4").tobytes() if name.endswith("data/0") else data
    path = _tampered(tmp_path, {"w": torch.tensor([1.5, -2.0])}, to_big_endian)
    np.testing.assert_array_equal(lt.load(path)["w"].numpy(), [1.5, -2.0])


def test_a_view_past_its_storage_is_refused(tmp_path):
    path = _tampered(tmp_path, {"w": torch.zeros(4)}, lambda name, data: data[:8] if name.endswith("data/0") else data)
    with pytest.raises(pickle.UnpicklingError, match="reaches past its storage of 2 elements"):
        lt.load(path)


def test_setting_state_on_a_tensor_is_refused(tmp_path):
    # data.pkl ends `SETITEMS STOP`; before them the stack ends with the tensor: BUILD {'numpy': 1} onto it
    build = b"}X\x05\x00\x00\x00numpyK\x01sb"
    path = _tampered(tmp_path, {"w": torch.zeros(1)},
                     lambda name, data: data[:-2] + build + data[-2:] if name.endswith("data.pkl") else data)
    with pytest.raises(pickle.UnpicklingError, match="refusing setting the state of a Tensor"):
        lt.load(path)


@pytest.mark.parametrize("write", [
    lambda obj, f: torch.save(obj, f, _use_new_zipfile_serialization=False),
    lambda obj, f: pickle.dump(obj, f, protocol=2),
], ids=["legacy-torch-save", "plain-pickle"])
def test_a_bare_pickle_is_refused_saying_how_to_convert(tmp_path, write):
    with open(tmp_path / "old.pt", "wb") as f:
        write({"w": torch.zeros(2)}, f)
    with pytest.raises(ValueError, match="legacy torch.save \\(pickle\\) file.*re-save it with a recent torch"):
        lt.load(tmp_path / "old.pt")
    with open(tmp_path / "old.pt", "rb") as f, pytest.raises(ValueError, match="does not unpickle"):
        lt.load(f)


def test_a_torchscript_archive_is_refused(tmp_path):
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), tmp_path / "script.pt")
    with pytest.raises(ValueError, match="TorchScript"):
        lt.load(tmp_path / "script.pt")
