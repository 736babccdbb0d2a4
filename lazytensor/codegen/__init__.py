"""Lowering kernels to a loop IR, and rendering it as OpenCL C or NumPy."""
