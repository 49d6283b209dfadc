# Sourced by tools/demo and tools/test (from the project's root): `install_venv EXTRA` makes
# ./.venv with Python 3.11 or newer (first run) and installs sdcadm into it, editable, with
# the extra EXTRA (sim, test), and its man page where `man` looks for it with .venv/bin on
# PATH.

# One line and exit 1 when PYTHON (default python3) is missing or older than 3.11, before
# pip would try to install into it.
require_python() {
    local py="${1:-python3}"
    if ! command -v "$py" >/dev/null 2>&1; then
        echo "tools/$(basename "$0"): $py not found: sdcadm needs Python 3.11 or newer" >&2
        exit 1
    fi
    if ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; then
        echo "tools/$(basename "$0"): sdcadm needs Python 3.11 or newer; $py is" \
             "$("$py" -V 2>&1 | head -n 1)" >&2
        exit 1
    fi
}

install_venv() {
    if [ -x .venv/bin/python ]; then
        require_python .venv/bin/python
    else
        require_python python3
        python3 -m venv .venv
    fi
    # `compat`: the project's directory on sys.path (a .pth line), not an import hook that
    # every start of sdcadm would load first (9 ms of a 0.01 s start).
    .venv/bin/python -m pip install -q --disable-pip-version-check \
        --config-settings editable_mode=compat -e ".[$1]"
    install_man_page
}

# An editable install leaves out the package's data files (share/man/man1/sdcadm.1): link
# the page into .venv/share/man/man1, which man(1) searches for .venv/bin on PATH. A link,
# so the page tools/build-man rewrites is the one shown.
install_man_page() {
    mkdir -p .venv/share/man/man1
    ln -sfn "$PWD/man/sdcadm.1" .venv/share/man/man1/sdcadm.1
}
