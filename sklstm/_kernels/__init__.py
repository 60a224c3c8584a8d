"""Cython kernels: the only place in sklstm with loops over numbers."""
