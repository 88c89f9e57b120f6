"""Benchmarks behind ``veriledger bench``."""
