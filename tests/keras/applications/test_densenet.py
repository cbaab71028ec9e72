import pytest

import tenfold.keras as tk
from tests.keras.applications._oracle import cross_check, legacy_check


def test_densenet121_matches_keras(tmp_path):
    kmod, _, x, want = cross_check(tmp_path, "densenet", "DenseNet121", (32, 32, 3), classes=4)
    legacy_check(tmp_path, "densenet", "DenseNet121", kmod, x, want, (32, 32, 3), classes=4)


@pytest.mark.parametrize("ctor,params", [("DenseNet169", 12_642_880),
                                         ("DenseNet201", 18_321_984)])
def test_bigger_densenets_structure(ctor, params):
    model = getattr(tk.applications, ctor)(weights=None, include_top=False)
    assert model.count_params() == params
