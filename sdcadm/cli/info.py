"""`sdcadm info`: the datacenter facts sdcadm runs with (the original `experimental info`)."""
from __future__ import annotations

import json
from typing import Any

import click


@click.command("info", short_help="Show datacenter configuration used by sdcadm.")
@click.option("-j", "--json", "as_json", is_flag=True,
              help="Dump the whole loaded configuration as JSON.")
@click.pass_obj
def info(app: Any, as_json: bool) -> None:
    """Show the datacenter information and configuration sdcadm uses."""
    cfg = app.config
    if as_json:
        data = dict(cfg.raw)
        data["source"] = cfg.source
        app.out(json.dumps(data, indent=4, default=str))
        return

    def v(value: Any) -> str:
        return "-" if value in (None, "") else str(value)

    app.out("\n".join([
        f"Datacenter Company Name: {v(cfg.datacenter_company_name)}",
        f"Datacenter Name: {v(cfg.datacenter_name)}",
        f"Datacenter Location: {v(cfg.datacenter_location)}",
        "",
        f"Admin IP: {v(cfg.admin_ip)}",
        f"External IP: {v(cfg.external_ip)}",
        f"DNS Domain: {v(cfg.dns_domain)}",
    ]))
