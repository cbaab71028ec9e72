"""tools/run_programs.py: a program written for TensorFlow/Keras runs unchanged on tenfold."""
import importlib.util
import sys
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_spec = importlib.util.spec_from_file_location(
    "run_programs", os.path.join(ROOT, "tools", "run_programs.py"))
run_programs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run_programs)

PROGRAM = '''
import numpy as np
import tensorflow as tf
import keras
from tensorflow.keras import layers
from keras.layers import Dense
import tenfold
assert tf is tenfold and keras is tenfold.keras and layers is tenfold.keras.layers
assert Dense is tenfold.keras.layers.Dense
model = keras.Sequential([keras.Input(shape=(3,)), Dense(1)])
model.compile(optimizer="sgd", loss="mse")
model.fit(np.ones((8, 3)), np.ones((8, 1)), epochs=3, verbose=0)
print("loss: %.4f" % model.evaluate(np.ones((8, 3)), np.ones((8, 1)), verbose=0))
'''


def test_program_runs_with_imports_redirected(tmp_path):
    prog = tmp_path / "prog.py"
    prog.write_text(PROGRAM)
    row = run_programs.run_one(str(prog), "tenfold", 120, 0, sys.executable, str(tmp_path))
    assert row["outcome"] == "ran", open(tmp_path / "tenfold__" + f"{tmp_path.name}__prog.py.log").read()
    assert row["metrics"].startswith("loss=")


def test_epoch_cap_is_reported(tmp_path):
    prog = tmp_path / "prog.py"
    prog.write_text(PROGRAM)
    row = run_programs.run_one(str(prog), "tenfold", 120, 1, sys.executable, str(tmp_path))
    assert row["outcome"] == "ran, epochs capped"


def test_errors_give_their_first_line(tmp_path):
    prog = tmp_path / "prog.py"
    prog.write_text("import tensorflow.keras.no_such_module\n")
    row = run_programs.run_one(str(prog), "tenfold", 120, 0, sys.executable, str(tmp_path))
    assert row["outcome"].startswith("error: ModuleNotFoundError: No module named "
                                     "'tensorflow.keras.no_such_module'")
