"""Layer tracking caches (`Layer._cached`): whatever changes a model's structure -- attribute
sets, in-place list / dict changes, new weights, copies -- shows in its weights at once."""
import copy
import pickle

import numpy as np

from tenfold import keras


class Blocks(keras.layers.Layer):
    def __init__(self):
        super().__init__()
        self.blocks = []
        self.table = {}
        self.nested = [[]]

    def call(self, x):
        for b in self.blocks:
            x = b(x)
        return x


def _count(layer):
    return len(layer.trainable_weights)


def test_in_place_changes_of_tracked_containers_show_in_the_weights():
    m = Blocks()
    assert _count(m) == 0
    d = keras.layers.Dense(2)
    d.build((None, 3))
    m.blocks.append(d)
    assert _count(m) == 2
    e = keras.layers.Dense(3)
    e.build((None, 2))
    m.table["e"] = e
    assert _count(m) == 4
    f = keras.layers.Dense(1)
    f.build((None, 1))
    m.nested[0].append(f)       # a list inside a list
    assert _count(m) == 6
    m.blocks.pop()
    del m.table["e"]
    assert _count(m) == 2
    m.nested = []
    assert _count(m) == 0


def test_new_weights_and_attribute_changes_show():
    m = Blocks()
    m.w = m.add_weight(shape=(2,), initializer="ones")
    assert _count(m) == 1
    m.v = keras.Variable(np.zeros(3, np.float32))
    assert _count(m) == 2
    del m.v
    assert _count(m) == 1
    m.w.trainable = False
    assert _count(m) == 0 and len(m.non_trainable_weights) == 1


def test_trainable_flag_and_copies():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2), keras.layers.Dense(1)])
    assert len(model.trainable_variables) == 4
    model.layers[0].trainable = False
    assert len(model.trainable_variables) == 2
    clone = copy.deepcopy(model)
    assert len(clone.weights) == 4
    assert all(a is not b for a, b in zip(clone.weights, model.weights))
    again = pickle.loads(pickle.dumps(Blocks()))
    d = keras.layers.Dense(2)
    d.build((None, 1))
    again.blocks.append(d)
    assert _count(again) == 2
