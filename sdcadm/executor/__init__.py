"""Execution of planned steps: effect handlers, journal, lock, history, resume and rollback.

This package is the only code that mutates the datacenter. The entry points are
`sdcadm.executor.run.execute` and `sdcadm.executor.run.resume`.
"""
