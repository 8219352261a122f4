"""gunicorn settings for the web process: `gunicorn outsmart.wsgi` (this file is read from the
working directory by default; `-c gunicorn.conf.py` says so explicitly).

Environment: PORT (default 8000), WEB_CONCURRENCY (worker processes, default 2),
FORWARDED_ALLOW_IPS (proxies whose X-Forwarded-* headers gunicorn trusts, default 127.0.0.1).
"""

import os

# All interfaces: in a container or behind a load balancer the proxy is not on loopback.
bind = [f"0.0.0.0:{os.environ.get('PORT', '8000')}"]
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

# No access log: the application logs every request itself, with its request id and with the
# tokens in invitation and access links redacted. gunicorn's access log would print them.
accesslog = None
errorlog = "-"
loglevel = "info"
