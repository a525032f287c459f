"""SmolLM2-135M, LoRA, through Ray Train on CPU: the loss falls and the model lands in the registry.

Heavy (about 2 s per step at 2 x 256 tokens): runs with OCTOPACK_FULL_TESTS=1.
"""

from __future__ import annotations

import pytest

from octopack.common.objectstore import ObjectStore, S3Settings

pytestmark = [pytest.mark.integration, pytest.mark.ray, pytest.mark.full]


def test_smollm2_lora_through_ray_train(s3_settings: S3Settings) -> None:
    from octopack.datasets.store import DatasetStore
    from octopack.models.registry import ModelRegistry
    from octopack.models.resolve import register_default_model
    from octopack.models.storage import ObjectStorage
    from octopack.ray_jobs.cluster import RaySettings
    from octopack.ray_jobs.finetune.config import FinetuneConfig
    from octopack.ray_jobs.finetune.trainer import run_with_ray

    records = []
    for i in range(48):
        old = "".join(f"def helper_{i}_{j}(x):\n    return x + {j}\n\n" for j in range(4))
        records.append({"subject": f"Make helper {i} multiply instead of add", "old_contents": old,
                        "new_contents": old.replace(" + ", " * "), "lang": "Python"})
    store = DatasetStore.from_settings(s3_settings)
    with store.create_version("commitpackft-smol") as writer:
        writer.write(records)
        writer.commit()
    objects = ObjectStore(s3_settings)
    base = register_default_model(ModelRegistry(ObjectStorage(objects, "models")))
    config = FinetuneConfig(dataset="commitpackft-smol@v1", base_model=str(base), out="octocoder-smol",
                            lora=True, max_steps=30, seq_len=256, micro_batch_size=2, checkpoint_every=10,
                            torch_threads=2, cpus_per_worker=2)
    result = run_with_ray(config, s3_settings, RaySettings(num_cpus=2))
    assert result["model"] == "octocoder-smol@v1"
    assert result["final_loss"] < 0.7 * result["first_loss"]
    assert objects.exists("models/octocoder-smol/v1/manifest.json")
    assert [k for k in objects.list_keys(f"runs/{result['run']}/checkpoints/") if k.endswith("COMPLETE")]
