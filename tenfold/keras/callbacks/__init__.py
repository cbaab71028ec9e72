"""`keras.callbacks`: hooks into `fit` / `evaluate` / `predict`."""
from tenfold.keras.callbacks.callback import Callback  # noqa: F401
from tenfold.keras.callbacks.callback_list import CallbackList  # noqa: F401
from tenfold.keras.callbacks.history import History  # noqa: F401
from tenfold.keras.callbacks.progbar_logger import ProgbarLogger  # noqa: F401
from tenfold.keras.callbacks.early_stopping import EarlyStopping  # noqa: F401
from tenfold.keras.callbacks.reduce_lr_on_plateau import ReduceLROnPlateau  # noqa: F401
from tenfold.keras.callbacks.learning_rate_scheduler import LearningRateScheduler  # noqa: F401
from tenfold.keras.callbacks.terminate_on_nan import TerminateOnNaN  # noqa: F401
from tenfold.keras.callbacks.lambda_callback import LambdaCallback  # noqa: F401
from tenfold.keras.callbacks.csv_logger import CSVLogger  # noqa: F401
from tenfold.keras.callbacks.monitor_callback import MonitorCallback  # noqa: F401
# TensorBoard, ModelCheckpoint and BackupAndRestore: owned by the saving package (issue #5).
from tenfold.keras.callbacks.tensorboard import TensorBoard  # noqa: F401,E402
from tenfold.keras.callbacks.model_checkpoint import ModelCheckpoint  # noqa: F401,E402
from tenfold.keras.callbacks.backup_and_restore import BackupAndRestore  # noqa: F401,E402
