"""lt.save / lt.load (safetensors): round trips with torch in both directions, shape errors."""
import numpy as np
import pytest
import torch
from safetensors.torch import load_file as torch_load_file
from safetensors.torch import save_file as torch_save_file

import lazytensor as lt
from helpers import check


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


def test_bfloat16_checkpoint_loads_as_bfloat16(tmp_path):
    path = tmp_path / "bf16.safetensors"
    w = torch.tensor([[1.5, -2.0], [0.25, 3.0001]]).bfloat16()
    torch_save_file({"weight": w}, str(path))
    got = lt.load(path)["weight"]
    assert got.dtype == lt.bfloat16
    np.testing.assert_array_equal(got.float().numpy(), w.float().numpy())


def test_quantized_int8_and_int16_checkpoints_keep_their_dtypes(tmp_path):
    """A quantized checkpoint's int8 and int16 tensors load as such, from torch's safetensors
    and through lt.save and lt.load."""
    want = {"q": torch.tensor([[-128, 5], [127, -1]], dtype=torch.int8),
            "scale": torch.tensor([-32768, 300], dtype=torch.int16)}
    torch_save_file(want, str(tmp_path / "q.safetensors"))
    got = lt.load(tmp_path / "q.safetensors")
    lt.save(got, tmp_path / "again.safetensors")
    for back in (got, lt.load(tmp_path / "again.safetensors")):
        for k, v in want.items():
            assert str(back[k].dtype) == str(v.dtype).replace("torch", "lazytensor")
            np.testing.assert_array_equal(back[k].numpy(), v.numpy())


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


def test_bert_style_checkpoint_with_hugging_face_names_loads(tmp_path):
    """A checkpoint saved from PyTorch with BertModel's parameter names loads strictly into the
    same architecture written with lazytensor, and both compute the same encoding."""
    import importlib.util
    import os
    import sys
    from safetensors.torch import save_file
    path = os.path.join(os.path.dirname(__file__), "..", "examples", "bert_encoder.py")
    spec = importlib.util.spec_from_file_location("bert_encoder", path)
    bert = importlib.util.module_from_spec(spec)
    sys.modules["bert_encoder"] = bert  # dataclasses look their module up by name
    spec.loader.exec_module(bert)
    config = bert.BertConfig()
    torch.manual_seed(0)
    reference = bert.build(torch)(config).eval()
    names = list(reference.state_dict())
    assert "encoder.layer.0.attention.self.query.weight" in names
    assert "embeddings.LayerNorm.weight" in names
    save_file({k: v.contiguous() for k, v in reference.state_dict().items()}, str(tmp_path / "bert.safetensors"))

    model = bert.build(lt)(config)
    model.load_state_dict(lt.load(str(tmp_path / "bert.safetensors")))  # strict: every name matches
    ids = np.array([[1, 5, 7, 9, 2, 0], [3, 3, 8, 1, 4, 6]])
    with torch.no_grad():
        expected = reference(torch.from_numpy(ids))
    check(model(lt.tensor(ids)), expected, rtol=1e-4, atol=1e-5)


def test_zero_dim_tensors_keep_their_shape_through_save_and_load(tmp_path):
    path = tmp_path / "scalars.safetensors"
    lt.save({"loss": lt.tensor(0.5), "count": lt.tensor(7, dtype=lt.int64)}, path)
    back = lt.load(path)
    assert {k: tuple(v.shape) for k, v in back.items()} == {"loss": (), "count": ()}
    assert {k: tuple(v.shape) for k, v in torch_load_file(str(path)).items()} == {"loss": (), "count": ()}
    assert back["count"].item() == 7


def test_batchnorm_num_batches_tracked_stays_0d_for_torch(tmp_path):
    _, lm = _pair()
    lm(lt.randn(4, 3))
    path = tmp_path / "bn.safetensors"
    lt.save(lm.state_dict(), path)
    tracked = torch_load_file(str(path))["1.num_batches_tracked"]
    assert tracked.shape == () and tracked.item() == 1


def test_optimizer_state_keeps_a_0d_step_through_save_and_load(tmp_path):
    model = lt.nn.Linear(2, 2)
    opt = lt.optim.Adam(model.parameters(), capturable=True)
    model(lt.ones(1, 2)).sum().backward()
    opt.step()
    path = tmp_path / "opt.safetensors"
    lt.save(opt.state_dict(), path)
    state = lt.load(path)["state"][0]
    assert tuple(state["step"].shape) == () and state["step"].item() == 1.0
    assert tuple(state["exp_avg"].shape) == (2, 2)


def test_a_legacy_torch_pickle_checkpoint_is_refused_saying_how_to_convert(tmp_path):
    path = tmp_path / "model.pt"  # zip checkpoints load: tests/test_torch_checkpoint.py
    torch.save(torch.nn.Linear(2, 2).state_dict(), path, _use_new_zipfile_serialization=False)
    with pytest.raises(ValueError, match="torch.save \\(pickle\\) file.*safetensors.torch.save_file"):
        lt.load(path)
