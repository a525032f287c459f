# syntax=docker/dockerfile:1
# Ray image for inference (RayService: Ray Serve app octopack.ray_jobs.serve) and finetuning
# (RayJob: python -m octopack.ray_jobs.finetune), and the data RayCluster that crawls (git) and filters:
# rayproject/ray plus octopack with its [train] and [data]
# extras (torch, transformers, peft, the S3 client). RAY_VERSION must match the chart's ray.version.
# Build context: the repository root.
ARG RAY_VERSION=2.60.0
ARG RAY_VARIANT=py311-gpu
FROM rayproject/ray:${RAY_VERSION}-${RAY_VARIANT}
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /tmp/octopack-src
COPY --chown=1000:100 pyproject.toml README.md LICENSE ./
COPY --chown=1000:100 octopack ./octopack
COPY --chown=1000:100 services ./services
COPY --chown=1000:100 ray_jobs ./ray_jobs
# Ray itself comes from the base image: the constraint keeps pip from replacing it.
RUN python -c "import ray; print('ray==' + ray.__version__)" > /tmp/ray-constraint.txt \
 && pip install --constraint /tmp/ray-constraint.txt ".[train,data]" \
 && python -c "import octopack.ray_jobs.finetune, octopack.ray_jobs.serve, octopack.services.crawler.driver" \
 && git --version \
 && rm -rf /tmp/octopack-src /tmp/ray-constraint.txt
LABEL org.opencontainers.image.title="octopack-ray" \
      org.opencontainers.image.description="Ray + octopack[train] for KubeRay RayService and RayJob" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PYTHONUNBUFFERED=1 OCTOPACK_LOG_JSON=1 HF_HUB_OFFLINE=1
WORKDIR /home/ray
# rayproject/ray runs as uid 1000 (ray), gid 100 (users).
USER 1000:100
