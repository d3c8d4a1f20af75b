"""Tests of the offline kit as a user meets it: its public names, its commands, BucketDeployment."""
