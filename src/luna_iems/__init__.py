"""Luna-IEMS: a self-hosted Intelligent Energy Management System."""

__version__ = "0.1.0"
