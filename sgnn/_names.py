"""Names shared by the command line, the datasets and the tasks, in one torch-free place.

Importing this module loads nothing beyond the standard library, so the command line
can build its parser and the sandpile sampler can check its target without torch or
the numba kernels.
"""

#: The kinds of sandpile sample: the footprint of one avalanche, or the hazard map
#: (avalanche size of a grain at every site).
SAMPLE_TARGETS = ("footprint", "hazard")

#: Model names accepted by :func:`sgnn.tasks.sandpile_model` and ``sgnn train --model``.
SANDPILE_MODELS = ("rgnet-exact", "rgnet-unet", "local", "dilated", "hint", "recurrent",
                   "rg-recurrent", "count", "wave")  # fmt: skip

#: Training defaults of every sandpile model, in one place: ``sgnn train``, the extrapolation
#: example and the docs read them. ``epochs`` and ``lr`` (Adam) per model; ``num_samples``
#: avalanches per training size. The recurrent models learn small rules fast at high rates;
#: the hint model's 44 weights need about 1 500 steps of its linear least-squares problem to
#: sit within rounding distance of the exact rule (then snapped and verified).
SANDPILE_TRAINING = {
    "rgnet-exact": {"epochs": 4, "lr": 3e-3, "num_samples": 1000},
    "rgnet-unet": {"epochs": 4, "lr": 3e-3, "num_samples": 1000},
    "local": {"epochs": 4, "lr": 3e-3, "num_samples": 1000},
    "dilated": {"epochs": 4, "lr": 3e-3, "num_samples": 1000},
    "hint": {"epochs": 15, "lr": 3e-2, "num_samples": 1000},
    "recurrent": {"epochs": 4, "lr": 1e-2, "num_samples": 1000},
    "rg-recurrent": {"epochs": 6, "lr": 1e-2, "num_samples": 1000},
    # epochs of the first-wave stage of sgnn.tasks.train_count_automaton
    "count": {"epochs": 10, "lr": 1e-1, "num_samples": 1000},
    # hazard maps only: exact first waves and a learned correction
    "wave": {"epochs": 4, "lr": 3e-3, "num_samples": 1000},
}
