"""HumanEvalPack evaluation: dataset, prompts, post-processing, execution and pass@k."""
