"""A simulated Triton datacenter (`sdcadm-sim`): SAPI, IMGAPI, the updates server, VMAPI,
CNAPI and Workflow on loopback ports, backed by SQLite, driven by YAML scenarios.

Production code never imports this package; tests and demos start it through
`sdcadm.sim.testing.start_sim` or the `sdcadm-sim` console script.
"""

# Every endpoint the simulator serves, in port order (`--port-base` counts up from here).
ENDPOINTS = ("sapi", "imgapi", "updates", "vmapi", "cnapi", "workflow", "admin")
