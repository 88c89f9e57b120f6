"""Layer 1: keys and signatures, hashing, canonical encoding and the error hierarchy."""
