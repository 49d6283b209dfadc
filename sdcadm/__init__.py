"""sdcadm: upgrade a Triton-style datacenter from its headnode."""

__version__ = "0.1.0"
