"""Models of every role: the registry (registry.py), the weights manifest (weights.py), and
one module per network or method. Only the network modules import torch."""
