#!/usr/bin/python3
"""test_serve_page.py - the status page of alertq serve in a real browser
(headless chromium through selenium): the seed's alerts, most severe first;
an acknowledgement by the page's form, seen by `alertq status`; screenshots
at desktop and phone size; event text that tries to run script shown
literally; forms refused without the caller's token or from another site;
and token roles (read sees no forms, operate does)."""

import base64
import http.client
import json
import os
import re
import struct
import sys
import tempfile
import time
import urllib.parse

import harness
from harness import check, wait_for

RULES = """
rules:
  - match: dora.days_since_last_deploy
    critical: "> 7"
    escalation: log
  - match: dora.change_failure_rate
    warning: "> 20"
    escalation: log
  - match: system.session_rows
    warning: "> 50000"
    critical: "> 100000"
    escalation: log
  - match: "*"
    escalation: log
""" + harness.LOGFILE_ESCALATION

TOKENS = {"ops": "o-page-secret-1", "viewer": "v-page-secret-2"}
HTTP = """
http:
  tokens:
    - { name: ops, role: operate, token_env: T_OPS }
    - { name: viewer, role: read, token_env: T_VIEW }
"""

SEED = [{"check": "dora.days_since_last_deploy", "status": "OK", "value": 9,
         "message": "last deployment 9 days ago"},
        {"check": "dora.change_failure_rate", "status": "OK", "value": 25,
         "message": "5 of 20 deployments failed"},
        {"check": "system.session_rows", "status": "OK", "value": 60000,
         "message": "60,000 rows"}]
IMG = "<img src=x onerror=\"document.title='pwned'\">"
SCRIPT = "<script>document.title='pwned'</script>"
CRIT = "dora.days_since_last_deploy"


def request(port, method, path, form=None, headers=None, basic=None):
    """(status, headers, text) of one request; form is a dict sent urlencoded."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    h = dict(headers or {})
    body = None
    if form is not None:
        body = urllib.parse.urlencode(form)
        h["Content-Type"] = "application/x-www-form-urlencoded"
    if basic:
        h["Authorization"] = "Basic " + base64.b64encode(basic.encode()).decode()
    try:
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        return r.status, r.headers, r.read().decode()
    finally:
        conn.close()


def healthy(port):
    try:
        return request(port, "GET", "/-/healthy")[0] == 200
    except OSError:
        return False


def start_serve(env, port, name):
    proc = env.spawn(name, [os.path.join(harness.BUILD, "alertq"), "-c", env.config_path, "serve",
                            "--listen", "127.0.0.1:%d" % port])
    wait_for("serve to answer", lambda: healthy(port), timeout=30)
    return proc


def csrf_of(html):
    m = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    check(m is not None, "no csrf input on the page")
    return m.group(1)


def png_size(path):
    """(bytes, width, height) of a PNG file."""
    with open(path, "rb") as f:
        head = f.read(24)
    check(head[:8] == b"\x89PNG\r\n\x1a\n", "%s is not a PNG" % path)
    width, height = struct.unpack(">II", head[16:24])
    return os.path.getsize(path), width, height


def browser(tmpdir):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--disable-dev-shm-usage", "--window-size=1280,1000"):
        opts.add_argument(a)
    opts.add_argument("--user-data-dir=" + tempfile.mkdtemp(prefix="chromium.", dir=tmpdir))
    opts.binary_location = "/usr/bin/chromium"
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    driver.set_page_load_timeout(30)
    return driver


def no_alert_dialog(driver):
    from selenium.common.exceptions import NoAlertPresentException
    try:
        text = driver.switch_to.alert.text
    except NoAlertPresentException:
        return
    harness.fail("an alert dialog opened: %r" % text)


def browse(env, port, shots):
    from selenium.webdriver.common.by import By
    driver = browser(env.dir)
    try:
        base = "http://127.0.0.1:%d" % port
        driver.get(base + "/")
        check(driver.title != "pwned", "the page ran script from event data")
        no_alert_dialog(driver)
        alerts = driver.find_element(By.ID, "alerts")
        names = [a.text for a in alerts.find_elements(By.CSS_SELECTOR, "h3 a")]
        check(names[0] == CRIT, "the CRITICAL alert is not first: %r" % names)
        for c in ("dora.change_failure_rate", "system.session_rows", "evil.message"):
            check(c in names, "%s is not among the alerts: %r" % (c, names))
        text = driver.find_element(By.TAG_NAME, "body").text
        check(IMG in text, "the hostile message is not shown literally")
        check(SCRIPT in text, "the hostile label is not shown literally")
        check(not driver.find_elements(By.CSS_SELECTOR, "img"), "an <img> from event data became an element")

        driver.save_screenshot(shots["desktop"])

        form = driver.find_element(By.CSS_SELECTOR, 'form[action="/checks/%s/ack"]' % CRIT)
        form.find_element(By.NAME, "comment").send_keys("deploying now")
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait_for("the redirect to the check's page",
                 lambda: urllib.parse.urlparse(driver.current_url).path == "/checks/" + CRIT, timeout=30)
        st = env.status()[CRIT]
        check(st["acked"] and st["acked_by"] == "loopback", "not acked by the form: %r" % st)
        body = driver.find_element(By.TAG_NAME, "body").text
        check("acked by loopback" in body, "the check's page does not show the ack:\n" + body)
        check(driver.find_elements(By.CSS_SELECTOR, 'form[action="/checks/%s/unack"]' % CRIT),
              "no unack form after the ack")

        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True})
        driver.get(base + "/")
        check(driver.title != "pwned", "the page ran script from event data (phone)")
        no_alert_dialog(driver)
        driver.save_screenshot(shots["phone"])
    finally:
        driver.quit()


def test(make):
    env = make("serve-page")
    env.write_config(RULES)
    env.start_broker()
    w = env.worker()
    env.wait_joined(w)
    env.submit_lines(SEED + [{"check": "evil.message", "status": "CRITICAL", "message": IMG,
                              "labels": {"team": SCRIPT}}])
    wait_for("the results applied", lambda: len(env.status()) == 4)
    st = env.status()
    check(st[CRIT]["severity"] == "CRITICAL" and st["dora.change_failure_rate"]["severity"] == "WARNING"
          and st["system.session_rows"]["severity"] == "WARNING", "the seed's severities: %r" % st)

    port = harness.free_port()
    serve = start_serve(env, port, "serve-open")
    status, headers, html = request(port, "GET", "/")
    check(status == 200 and headers["Content-Type"] == "text/html; charset=utf-8",
          "GET /: %d %s" % (status, headers["Content-Type"]))

    build = harness.BUILD
    shots = {"desktop": os.path.join(build, "serve-page.png"), "phone": os.path.join(build, "serve-page-phone.png")}
    t0 = time.monotonic()
    browse(env, port, shots)
    print("browser part: %.1f s" % (time.monotonic() - t0))
    size, width, height = png_size(shots["desktop"])
    print("desktop screenshot: %d bytes, %dx%d" % (size, width, height))
    check(size > 20000 and width >= 1000 and height >= 700, "desktop screenshot too small: %d bytes %dx%d"
          % (size, width, height))
    size, width, height = png_size(shots["phone"])
    print("phone screenshot: %d bytes, %dx%d" % (size, width, height))
    check(size > 20000 and (width, height) == (390, 844), "phone screenshot wrong: %d bytes %dx%d"
          % (size, width, height))

    # the check's page; an unknown check is a 404 page
    status, headers, html = request(port, "GET", "/checks/" + CRIT)
    check(status == 200 and "History" in html, "check page: %d" % status)
    status, headers, html = request(port, "GET", "/checks/no.such")
    check(status == 404 and headers["Content-Type"].startswith("text/html"), "unknown check: %d" % status)

    # forms are refused without this caller's token, or from another site
    token = csrf_of(request(port, "GET", "/")[2])
    target = "/checks/system.session_rows/ack"
    same = {"Origin": "http://127.0.0.1:%d" % port}
    for what, form, hdrs in (("no csrf", {"comment": "x"}, same),
                             ("a wrong csrf", {"csrf": "0" * len(token), "comment": "x"}, same),
                             ("a csrf one character short", {"csrf": token[:-1], "comment": "x"}, same),
                             ("another site's Origin", {"csrf": token, "comment": "x"},
                              {"Origin": "http://evil.example"})):
        status, headers, html = request(port, "POST", target, form=form, headers=hdrs)
        check(status == 403 and headers["Content-Type"].startswith("text/html"),
              "form with %s: want 403, got %d" % (what, status))
        check(not env.status()["system.session_rows"]["acked"], "form with %s acked" % what)
    status, headers, html = request(port, "POST", target, form={"csrf": token, "comment": "x"}, headers=same)
    check(status == 303 and headers["Location"] == "/checks/system.session_rows",
          "the right form: %d %s" % (status, headers["Location"]))
    check(env.status()["system.session_rows"]["acked_by"] == "loopback", "the right form did not ack")
    status, headers, html = request(port, "POST", "/checks/system.session_rows/unack", form={"csrf": token})
    check(status == 303 and not env.status()["system.session_rows"]["acked"], "unack form: %d" % status)
    status, headers, html = request(port, "POST", "/silences", form={"csrf": token, "match": "dora.*",
                                                                       "for": "2h", "comment": "maint"})
    check(status == 303 and headers["Location"] == "/", "silence form: %d" % status)
    silences = json.loads(env.alertq("silences", "--json").stdout)
    check([(s["match"], s["created_by"]) for s in silences] == [("dora.*", "loopback")],
          "silence form: %r" % silences)
    env.stop(serve)

    # tokens: read sees the page without forms and may not post; operate has forms
    env.env.update({"T_OPS": TOKENS["ops"], "T_VIEW": TOKENS["viewer"]})
    env.write_config(RULES + HTTP)
    port = harness.free_port()
    serve = start_serve(env, port, "serve-tokens")
    check(request(port, "GET", "/")[0] == 401, "the page without a token")
    status, headers, html = request(port, "GET", "/", basic="viewer:" + TOKENS["viewer"])
    check(status == 200 and "Alerts" in html, "viewer's page: %d" % status)
    check('name="csrf"' not in html and 'method="post"' not in html, "the viewer's page has forms")
    status, headers, html = request(port, "GET", "/", basic="ops:" + TOKENS["ops"])
    check(status == 200 and 'method="post"' in html, "ops' page has no forms")
    ops_token = csrf_of(html)
    status = request(port, "POST", target, form={"csrf": ops_token}, basic="viewer:" + TOKENS["viewer"])[0]
    check(status == 403 and not env.status()["system.session_rows"]["acked"], "viewer's form post: %d" % status)
    status = request(port, "POST", target, form={"csrf": ops_token}, basic="ops:" + TOKENS["ops"])[0]
    check(status == 303 and env.status()["system.session_rows"]["acked_by"] == "ops", "ops' form post: %d" % status)
    env.stop(serve)


if __name__ == "__main__":
    sys.exit(harness.main(test))
