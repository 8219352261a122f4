"""The Content-Security-Policy as a real browser applies it: an injected inline script (what an
XSS would be) does not run, and the pages' own scripts do. (Every other browser test fails on
any policy violation, see tests/conftest.py `new_page`.)"""

import pytest
from django.urls import reverse

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_injected_inline_script_is_refused_by_the_browser(browser, live_server):
    # Its own context: the deliberate violation must not trip `new_page`'s watcher.
    context = browser.new_context(base_url=live_server.url)
    try:
        page = context.new_page()
        console = []
        page.on("console", lambda message: console.append(message.text))
        page.goto(reverse("portal:register"))
        with pytest.raises(Exception, match=r"Content Security Policy|Refused|script"):
            page.add_script_tag(content="window.__pwned = true;")
        assert page.evaluate("window.__pwned === undefined")
        assert any("Content Security Policy" in text for text in console)
        # The page's own script (static/js/access-code.js) runs: typing the whole code into
        # the first field spreads it over the four.
        page.fill("#id_code_1", "guacamole aluminum breath upstairs")
        assert page.input_value("#id_code_4") == "upstairs"
    finally:
        context.close()
