"""interpolate, pixel_shuffle/unshuffle and their modules equal PyTorch's, on every device."""
import numpy as np
import pytest
import torch

import lazytensor as lt
from helpers import using
from nn_helpers import assert_close, data, to_lt

INTERPOLATE = {
    "nearest_size": dict(size=(8, 11), mode="nearest"),
    "nearest_scale": dict(scale_factor=2, mode="nearest"),
    "nearest_exact": dict(scale_factor=1.7, mode="nearest-exact"),
    "bilinear_size": dict(size=(8, 11), mode="bilinear"),
    "bilinear_align_corners": dict(size=(3, 4), mode="bilinear", align_corners=True),
    "bilinear_scale": dict(scale_factor=2.5, mode="bilinear"),
}


@pytest.mark.parametrize("case", list(INTERPOLATE))
def test_interpolate_matches_torch(case, device):
    x = data((2, 3, 5, 7))
    with using(device, True):
        got = lt.nn.functional.interpolate(to_lt(x), **INTERPOLATE[case])
    assert_close(got, torch.nn.functional.interpolate(x, **INTERPOLATE[case]), rtol=1e-5, atol=1e-6)


def test_linear_interpolation_of_a_sequence_and_its_gradient(device):
    x = data((2, 3, 6)).requires_grad_(True)
    torch.nn.functional.interpolate(x, size=9, mode="linear").square().sum().backward()
    with using(device, True):
        lx = to_lt(x, requires_grad=True)
        lt.nn.functional.interpolate(lx, size=9, mode="linear").square().sum().backward()
        assert_close(lx.grad, x.grad, rtol=1e-5, atol=1e-6)


def test_upsample_and_pixel_shuffle_modules_match_torch(device):
    x = data((2, 8, 3, 5))
    with using(device, True):
        assert_close(lt.nn.Upsample(scale_factor=2)(to_lt(x)), torch.nn.Upsample(scale_factor=2)(x))
        shuffled = lt.nn.PixelShuffle(2)(to_lt(x))
        assert_close(shuffled, torch.nn.PixelShuffle(2)(x))
        assert_close(lt.nn.PixelUnshuffle(2)(shuffled), x)


def test_bad_arguments_are_refused_naming_the_shapes():
    with pytest.raises(RuntimeError, match=r"pixel_shuffle.*upscale_factor\^2 = 4.*\(1, 6, 2, 2\)"):
        lt.nn.functional.pixel_shuffle(lt.zeros(1, 6, 2, 2), 2)
    with pytest.raises(ValueError, match="exactly one of size and scale_factor"):
        lt.nn.functional.interpolate(lt.zeros(1, 1, 4, 4))
    with pytest.raises(NotImplementedError, match=r"'bilinear' expects 4-D input.*\(1, 1, 4\)"):
        lt.nn.functional.interpolate(lt.zeros(1, 1, 4), size=8, mode="bilinear")


def test_torch_accelerator_reports_no_accelerator():
    assert lt.accelerator.is_available() is False and lt.accelerator.current_accelerator() is None
    assert lt.accelerator.device_count() == 0
    np.testing.assert_array_equal(lt.zeros(2).numpy(), [0, 0])  # and the default device still works
