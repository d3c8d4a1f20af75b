"""The integ-runner form of the real-AWS test: integ apps, their snapshots, the driver."""
