"""NumPy reference for the norm family (see reference.py)."""
import numpy as np  # noqa: F401
