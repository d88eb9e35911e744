"""Pure Kubernetes renderers: the objects of APIs, Neuron add-ons and Cluster Autoscaler as plain dicts."""
