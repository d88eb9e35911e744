"""Facts we cite: the Neuron hardware catalog and every pinned version. Data with sources; imports nothing of ours."""
