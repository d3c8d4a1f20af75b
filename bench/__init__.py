"""The data-path benchmark of issue 5: ``python -m bench.run`` (``make bench``).

Everything runs on 127.0.0.1 as separate processes: moto (S3), the CodeArtifact emulator, a
byte-counting proxy in front of moto, and each measured workload (the AWS CLI v1 baseline, the
bundled handler, the floors).
"""

import os

# The driver imports the library's bundler, which loads aws-cdk-lib through jsii (Node.js):
# keep jsii's Node-version banners out of the output, as the Makefile does.
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
