"""Tests of the local CloudFormation kit (codeartifact_generic.testing._local_deploy)."""
