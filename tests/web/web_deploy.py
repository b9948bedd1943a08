#!/usr/bin/env python3
"""web_deploy.py URL TOKEN SHOTS -- the deploy form and a deployment's
live page in a real headless Chromium (tests/shell/web_deploy.sh runs it
in the test network's namespace, where pipold and the QEMU node n1 are):
log in, deploy testimg onto n1 from the form, and watch the page's
states, pushed by server-sent events, reach ready without a reload.
Prints "ok - ..." or "not ok - ..." per check."""
import os
import sys
import time

from selenium.webdriver.common.by import By

from webcheck import check, chrome, exit_status, wait

U, TOKEN, SHOTS = sys.argv[1], sys.argv[2], sys.argv[3]
ORDER = ["pending", "booting", "fetching", "writing", "postinstall",
         "rebooting", "ready"]

d = chrome("1280,720")
try:
    d.get(U + "/web")
    wait(d, lambda: d.find_element(By.ID, "login").is_displayed())
    d.find_element(By.ID, "token").send_keys(TOKEN)
    d.find_element(By.CSS_SELECTOR, "#login button").click()
    check("logged in", wait(d, lambda: d.find_element(By.ID, "who").text
                            == "alice"))
    d.get(U + "/web#/reservations")
    wait(d, lambda: d.find_elements(By.ID, "d-nodes"))
    d.find_element(By.ID, "d-nodes").send_keys("n1")
    d.find_element(By.ID, "d-image").send_keys("testimg")
    d.find_element(By.CSS_SELECTOR, "#deploy button").click()
    check("the deploy form opens the deployment's page",
          wait(d, lambda: "#/deployment/" in d.current_url and
               d.find_elements(By.CSS_SELECTOR, "#live [data-dep]"), 20),
          d.find_element(By.ID, "error").text)
    d.execute_script("window.__noreload = 1")
    t0, shot = time.time(), False
    while time.time() - t0 < 300:
        st = d.execute_script("const e = document.querySelector("
                              "'#live [data-dep]');"
                              "return e ? e.dataset.state : ''")
        if st == "writing" and not shot:
            os.makedirs(SHOTS, exist_ok=True)
            d.save_screenshot(os.path.join(SHOTS, "deploy-writing.png"))
            shot = True
        if st in ("ready", "failed"):
            break
        time.sleep(0.5)
    os.makedirs(SHOTS, exist_ok=True)
    d.save_screenshot(os.path.join(SHOTS, "deploy-ready.png"))
    seen = d.execute_script(
        "return [...document.querySelectorAll('#seen li')].map(e => "
        "e.textContent.split(' ')[1])")
    check(f"the page reached ready in {int(time.time() - t0)} s",
          st == "ready", f"state {st}, seen {seen}")
    check("without a reload", d.execute_script(
        "return window.__noreload === 1"))
    check("the stream brought the states in order, several of them",
          len(seen) >= 4 and seen[-1] == "ready" and
          seen == sorted(seen, key=ORDER.index), str(seen))
    check("the post-install output arrived on the page",
          "rc says hello" in d.find_element(By.ID, "live").text)
    check("the stream ended once ready", wait(
        d, lambda: d.find_element(By.ID, "stream").text ==
        "stream ended: done"))
finally:
    d.quit()
sys.exit(exit_status())
