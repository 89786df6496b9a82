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
                   "rg-recurrent")  # fmt: skip
