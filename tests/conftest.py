import pytest
import torch

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture
def float64():
    """Run a test with float64 as the default dtype (e3nn builds its matrices in the default dtype)."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def random_O3(n, seed):
    """n random orthogonal matrices, half of them improper (det -1), float64."""
    from symml.so3 import rand_matrix

    R = rand_matrix(n, dtype=torch.float64, seed=seed)
    sign = torch.ones(n, dtype=torch.float64)
    sign[1::2] = -1
    return R * sign[:, None, None]
