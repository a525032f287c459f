"""Backends run stages: ``local`` (local services and Ray) and ``kubernetes`` (cluster objects)."""
