"""Filter service: applies the CommitPackFT rules to a dataset version and writes a new one."""
