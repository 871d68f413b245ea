"""OmniRoute on a plain mitmdump: `mitmdump -s addons/omniroute_addons.py`.

mitmproxy's own options keep their meaning (`--listen-host`, `--listen-port`, `--mode` set the
HTTP_PROXY listener); OmniRoute's are `--set omniroute_home=... omniroute_api_port=...` (see
`omniroute.addons.options`). This file is not named `omniroute.py`: mitmproxy puts a script's
folder first on `sys.path`, where that name would hide the `omniroute` package.
"""

from omniroute.addons import make_addons

addons = make_addons()
