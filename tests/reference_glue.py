"""NumPy reference for the glue family (see reference.py)."""
import numpy as np  # noqa: F401
