"""Builders of test inputs: synthetic OVMF images, certificates and attestation reports."""
