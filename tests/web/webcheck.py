"""webcheck.py -- what the browser tests (web_test.py, web_deploy.py)
share: a check printed as tests/lib.sh does ("ok - ..." / "not ok -
..."), a wait that survives the pages' redraws, and headless Chromium
(Debian's chromium and chromium-driver, as root: no sandbox)."""
import sys

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

failed = 0


def check(name, cond, detail=""):
    global failed
    print(f"{'ok' if cond else 'not ok'} - {name}", flush=True)
    if not cond:
        failed += 1
        if detail:
            print(f"  {detail}", file=sys.stderr)


def wait(d, fn, secs=10):
    """fn() true within secs; the pages redraw, so an element found may
    be gone when read: that is tried again, not a failure"""
    try:
        WebDriverWait(d, secs, poll_frequency=0.1, ignored_exceptions=[
            StaleElementReferenceException]).until(lambda _: fn())
        return True
    except Exception:
        return False


def chrome(size="1280,860"):
    opt = webdriver.ChromeOptions()
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
              "--disable-gpu", "--window-size=" + size, "--no-proxy-server"):
        opt.add_argument(a)
    opt.binary_location = "/usr/bin/chromium"
    # the page's console messages (CSP refusals among them) for get_log
    opt.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"),
                            options=opt)


def exit_status():
    return 1 if failed else 0
