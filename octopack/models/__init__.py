"""Base and fine-tuned models: the default SmolLM2 model, tiny test models and the model registry.

Heavy libraries (torch, transformers) are imported inside the functions that need them.
"""
