#!/usr/bin/env python3
"""Runs os-ken applications (os-ken 4.x ships no osken-manager).

    python run_app.py PORT APP [APP...]

Listens for switches on 127.0.0.1:PORT (CONF ofp_listen_host and
ofp_tcp_listen_port); APP is a module name or a path to a .py file.
Set $OSKEN_EVENTS to make tests/osken/learning_switch.py write its event
lines to that file, and $OSKEN_VERBOSE=1 for os-ken's debug log.
"""
import logging
import os
import sys

from os_ken.lib import hub

hub.patch(thread=False)
from os_ken import cfg, log  # noqa: E402
from os_ken import flags  # noqa: E402,F401  (options the apps expect)
from os_ken.base.app_manager import AppManager  # noqa: E402
from os_ken.controller import controller  # noqa: E402,F401  (--ofp-* options)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    port, apps = sys.argv[1], sys.argv[2:]
    verbose = os.environ.get("OSKEN_VERBOSE") == "1"
    log.early_init_log(logging.DEBUG if verbose else logging.INFO)
    args = ["--ofp-listen-host", "127.0.0.1", "--ofp-tcp-listen-port", port]
    if verbose:
        args.append("--verbose")
    cfg.CONF(args=args, project="os_ken")
    log.init_log()
    hub.patch(thread=True)
    AppManager.run_apps(apps)


if __name__ == "__main__":
    main()
