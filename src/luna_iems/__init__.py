"""Luna-IEMS: a self-hosted Intelligent Energy Management System.

Importing the package caps the thread pools of the numeric libraries before any of them loads
(every entry point — `luna`, `uvicorn --factory luna_iems.main:app_factory`, the benchmarks — imports
this first). On a few shared cores, OpenMP in scikit-learn and BLAS in NumPy/torch spawn one thread
per core and contend: a forecast took 15-60 s instead of 1.5-4.6 s on a loaded machine. An operator's
own value of these variables wins. The models never come from a hub at run time (offline flags).
"""

import os

COMPUTE_THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)
for _variable in COMPUTE_THREAD_VARIABLES:
    os.environ.setdefault(_variable, "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

__version__ = "0.1.0"
