# syntax=docker/dockerfile:1
# Stand-in for python:3.11-slim-bookworm where no registry image can be pulled: Debian 12's own Python 3.11
# on a local Debian image (for example one made with debootstrap and `podman import`). Only the local
# image tests use it (tests/chart/test_executor_image.py): pass it as PYTHON_IMAGE to docker/base.Dockerfile.
ARG DEBIAN_IMAGE=localhost/octopack-debian:bookworm
FROM ${DEBIAN_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 python3-venv python3-pip ca-certificates \
 && ln -sf /usr/bin/python3 /usr/local/bin/python \
 && rm -rf /var/lib/apt/lists/*
