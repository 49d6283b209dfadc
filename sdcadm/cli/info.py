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
        "",
        f"Configuration: {_layers(cfg)}",
        f"Update channel: {_channel(app)}",
        *(f"{label}: {v(getattr(cfg, key))}" for label, key in URLS),
    ]))


URLS = (("SAPI", "sapi_url"), ("IMGAPI", "imgapi_url"), ("VMAPI", "vmapi_url"),
        ("CNAPI", "cnapi_url"), ("Workflow", "wfapi_url"), ("Updates server", "updates_url"))


def _layers(cfg: Any) -> str:
    """Where the configuration comes from, the layer that wins first: the operator file,
    over the headnode's /usbkey/config, over the shipped defaults (`load_config`)."""
    from sdcadm.config import DEFAULT_CONFIG_PATH

    usbkey = f"{cfg.raw.get('usbkeyConfig') or '/usbkey/config'} where present"
    if cfg.source is None:
        return f"{usbkey}, over shipped defaults ({DEFAULT_CONFIG_PATH} not found)"
    return f"{cfg.source}, over {usbkey}, over shipped defaults"


def _channel(app: Any) -> str:
    """The channel updates use: the sdc application's, else the updates server's default."""
    from sdcadm.cli.channel import sdc_app
    from sdcadm.errors import SdcAdmError

    try:
        name = sdc_app(app).metadata.get("update_channel")  # and its http_proxy
        if name:
            return str(name)
        default = next((c.get("name") for c in app.clients.updates.list_channels()
                        if c.get("default")), None)
    except SdcAdmError as e:
        return f"- (cannot read it: {e.message.splitlines()[0]})"
    return f"{default} (the updates server's default)" if default else "-"
