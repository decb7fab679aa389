"""One Keras preprocessing layer per recipe: raw inputs -> network inputs, vocabularies owned.

Importing this package registers every preprocessor for ``keras.models.load_model``.
"""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
