"""The environment contract between our pods and the serving process: the variables it reads its NCG layout from.

The renderers set them from the plan; validation keeps an API's own ``env`` off them.
"""

from __future__ import annotations

from typing import Final

# Environment the serving process reads its NCG layout from. Every family runs Neuron runtime 2.x (inf1 since Neuron
# 1.16), and NEURONCORE_GROUP_SIZES of runtime 1.x has had no effect since Neuron 1.20 (Neuron's announcement "End of
# support for NEURONCORE_GROUP_SIZES starting with Neuron 1.20.0"), so it is not set.
ENV_NEURON_RT_NUM_CORES: Final = "NEURON_RT_NUM_CORES"
"""How many NeuronCores each serving process takes."""
ENV_NEURON_LOGICAL_NC_CONFIG: Final = "NEURON_LOGICAL_NC_CONFIG"
"""The LNC the Neuron runtime runs at (Neuron docs, "Logical NeuronCore configuration"): set to the node group's LNC on
families that have one, so the runtime's core count matches the device plugin's."""
ENV_NEURON_RT_VISIBLE_CORES: Final = "NEURON_RT_VISIBLE_CORES"
"""Set by the Neuron device plugin in the container to the cores it allocated; never set by us or by users."""
ENV_PROCESSES_PER_REPLICA: Final = "INFERENTIA_PROCESSES_PER_REPLICA"
"""How many serving processes the container should start (one per NCG)."""
ENV_THREADS_PER_PROCESS: Final = "INFERENTIA_THREADS_PER_PROCESS"
"""How many request threads each serving process should run."""
ENV_NCG_SIZE: Final = "INFERENTIA_NCG_SIZE"
"""NeuronCores per NCG (the value of NEURON_RT_NUM_CORES, under a name of our own)."""
ENV_NEURONCORES: Final = "INFERENTIA_NEURONCORES"
"""NeuronCores of the whole replica."""
ENV_PORT: Final = "INFERENTIA_PORT"
"""The port to serve HTTP on (the API's ``port``)."""
ENV_HOME: Final = "HOME"
"""A writable home directory; an API's own ``env`` may set another."""

RESERVED_ENV_NAMES: Final = frozenset(
    {
        ENV_NEURON_RT_NUM_CORES,
        ENV_NEURON_LOGICAL_NC_CONFIG,
        ENV_NEURON_RT_VISIBLE_CORES,
        ENV_PROCESSES_PER_REPLICA,
        ENV_THREADS_PER_PROCESS,
        ENV_NCG_SIZE,
        ENV_NEURONCORES,
        ENV_PORT,
    }
)
"""Names an API's ``env`` may not set: they are derived from its sizing, or set by the device plugin."""
