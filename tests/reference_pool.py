"""NumPy reference for the pool family (see reference.py)."""
import numpy as np  # noqa: F401
