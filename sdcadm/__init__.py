"""sdcadm: upgrade a Triton-style datacenter from its headnode."""

__version__ = "0.1.0"


def package_text(name: str) -> str:
    """A data file shipped inside the package (`etc/defaults.json`), read as text: an open
    beside this file rather than importlib.resources, whose imports cost every command
    about 6 ms (sdcadm is never run from a zip)."""
    import os

    with open(os.path.join(os.path.dirname(__file__), name), encoding="utf-8") as f:
        return f.read()


def buildstamp() -> str | None:
    """The build stamp shipped in the package (`etc/buildstamp`), None when it is missing."""
    try:
        return package_text("etc/buildstamp").strip()
    except OSError:
        return None
