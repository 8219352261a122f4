import os

from django.core.wsgi import get_wsgi_application
from django.utils.http import parse_header_parameters

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "outsmart.settings")


class RefuseUnreadableCharset:
    """A request declaring a charset no form can be decoded with (rot13, base64, idna…) fails
    inside Django while the request is being built when it has a query string, before any
    middleware can answer: refuse it here with a plain 400 instead of a 500."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        from outsmart.middleware import unreadable_charset

        _, params = parse_header_parameters(environ.get("CONTENT_TYPE", ""))
        if unreadable_charset(params.get("charset", "")):
            start_response("400 Bad Request", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"Bad Request: the request's charset is not a usable text encoding.\n"]
        return self.app(environ, start_response)


application = RefuseUnreadableCharset(get_wsgi_application())
