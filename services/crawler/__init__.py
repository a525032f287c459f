"""Crawler service: walks Git repositories once each and writes CommitPack samples as a dataset version."""
