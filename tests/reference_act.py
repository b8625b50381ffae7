"""NumPy reference for the act family (see reference.py)."""
import numpy as np  # noqa: F401
