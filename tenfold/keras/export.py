"""`keras.export`: Keras 3's export API. The SavedModel writer lives in
tenfold/export/saved_model.py (the layer above Keras); this module only names it."""
from tenfold.export.saved_model import ExportArchive

__all__ = ["ExportArchive"]
