"""The environment contract between our pods and the serving process: the variables it reads its NCG layout from.

The renderers set them from the plan; validation keeps an API's own ``env`` off them.
"""

from __future__ import annotations

from typing import Final

# Environment the serving process reads its NCG layout from.
ENV_NEURONCORE_GROUP_SIZES: Final = "NEURONCORE_GROUP_SIZES"
"""Neuron runtime 1.x (neuron-rtd, inf1): NCG size of each process; Cortex set it to the NCG size."""
ENV_NEURON_RT_NUM_CORES: Final = "NEURON_RT_NUM_CORES"
"""Neuron runtime 2.x: how many NeuronCores each process takes."""
ENV_NEURON_RT_VISIBLE_CORES: Final = "NEURON_RT_VISIBLE_CORES"
"""Set by the Neuron device plugin in the container to the cores it allocated; never set by us or by users."""
ENV_PROCESSES_PER_REPLICA: Final = "INFERENTIA_PROCESSES_PER_REPLICA"
"""How many serving processes the container should start (one per NCG)."""
ENV_THREADS_PER_PROCESS: Final = "INFERENTIA_THREADS_PER_PROCESS"
"""How many request threads each serving process should run."""
ENV_NCG_SIZE: Final = "INFERENTIA_NCG_SIZE"
"""NeuronCores per NCG, whatever the runtime generation."""
ENV_NEURONCORES: Final = "INFERENTIA_NEURONCORES"
"""NeuronCores of the whole replica."""
ENV_PORT: Final = "INFERENTIA_PORT"
"""The port to serve HTTP on (the API's ``port``)."""

RESERVED_ENV_NAMES: Final = frozenset(
    {
        ENV_NEURONCORE_GROUP_SIZES,
        ENV_NEURON_RT_NUM_CORES,
        ENV_NEURON_RT_VISIBLE_CORES,
        ENV_PROCESSES_PER_REPLICA,
        ENV_THREADS_PER_PROCESS,
        ENV_NCG_SIZE,
        ENV_NEURONCORES,
        ENV_PORT,
    }
)
"""Names an API's ``env`` may not set: they are derived from its sizing, or set by the device plugin."""
