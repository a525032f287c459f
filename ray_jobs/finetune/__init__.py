"""Instruction fine-tuning: a plain PyTorch loop (runs alone or under torchrun) and a Ray Train wrapper."""
