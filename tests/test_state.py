"""lt.save / lt.load (safetensors): round trips with torch in both directions, shape errors."""
import numpy as np
import pytest
import torch
from safetensors.torch import load_file as torch_load_file
from safetensors.torch import save_file as torch_save_file

import lazytensor as lt


def _pair():
    torch.manual_seed(0)
    tm = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2))
    lm = lt.nn.Sequential(lt.nn.Linear(3, 4), lt.nn.BatchNorm1d(4), lt.nn.Linear(4, 2))
    return tm, lm


def test_lazytensor_state_dict_loads_in_torch_and_back(tmp_path):
    tm, lm = _pair()
    path = tmp_path / "lt.safetensors"
    lt.save(lm.state_dict(), path)
    tm.load_state_dict(torch_load_file(str(path)))
    for k, v in lm.state_dict().items():
        np.testing.assert_array_equal(tm.state_dict()[k].numpy(), v.numpy())
    back = tmp_path / "torch.safetensors"
    torch_save_file(tm.state_dict(), str(back))
    _, lm2 = _pair()
    lm2.load_state_dict(lt.load(back))
    for k, v in lm.state_dict().items():
        np.testing.assert_array_equal(lm2.state_dict()[k].numpy(), v.numpy())


def test_torch_file_loads_into_module(tmp_path):
    tm, lm = _pair()
    path = tmp_path / "w.safetensors"
    torch_save_file(tm.state_dict(), str(path))
    lm.load_state_dict(lt.load(path))
    lm.eval(), tm.eval()
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_allclose(lm(lt.tensor(x)).numpy(), tm(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)


def test_shape_mismatch_names_the_key(tmp_path):
    path = tmp_path / "w.safetensors"
    torch_save_file({"weight": torch.zeros(4, 3), "bias": torch.zeros(5)}, str(path))
    with pytest.raises(RuntimeError, match="size mismatch for bias"):
        lt.nn.Linear(3, 4).load_state_dict(lt.load(path))


def test_bfloat16_checkpoint_loads_as_float32(tmp_path):
    path = tmp_path / "bf16.safetensors"
    w = torch.tensor([[1.5, -2.0], [0.25, 3.0]])
    torch_save_file({"weight": w.bfloat16()}, str(path))
    got = lt.load(path)["weight"]
    assert got.dtype == lt.float32
    np.testing.assert_array_equal(got.numpy(), w.numpy())


def test_nested_objects_round_trip(tmp_path):
    obj = {"state": {0: {"step": 3.0, "exp_avg": lt.ones(2)}}, "param_groups": [{"lr": 0.1, "params": [0]}]}
    path = tmp_path / "opt.safetensors"
    lt.save(obj, path)
    back = lt.load(path)
    assert back["param_groups"] == [{"lr": 0.1, "params": [0]}]
    assert back["state"][0]["step"] == 3.0
    np.testing.assert_array_equal(back["state"][0]["exp_avg"].numpy(), [1.0, 1.0])


def test_load_to_device(tmp_path):
    path = tmp_path / "w.safetensors"
    lt.save({"a": lt.arange(3)}, path)
    assert lt.load(path, device="numpy")["a"].device == lt.device("numpy")
