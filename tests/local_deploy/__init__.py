"""Tests of the local CloudFormation kit (codeartifact_generic.testing.local_deploy)."""
