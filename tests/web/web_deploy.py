#!/usr/bin/env python3
"""web_deploy.py URL TOKEN SHOTS -- the deploy form and a deployment's
live page in a real headless Chromium (tests/shell/web_deploy.sh runs it
in the test network's namespace, where pipold and the QEMU node n1 are):
log in, deploy testimg onto n1 from the form, and watch the page's
states, pushed by server-sent events, reach ready without a reload;
meanwhile a second browser has n1's console page open (xterm.js over a
WebSocket to the VM's serial line), where the deployment environment's
lines and then the deployed system's appear. Prints "ok - ..." or
"not ok - ..." per check."""
import os
import sys
import time

from selenium.webdriver.common.by import By

from webcheck import check, chrome, exit_status, wait

U, TOKEN, SHOTS = sys.argv[1], sys.argv[2], sys.argv[3]
ORDER = ["pending", "booting", "fetching", "writing", "postinstall",
         "rebooting", "ready"]



def login(d):
    d.get(U + "/web")
    wait(d, lambda: d.find_element(By.ID, "login").is_displayed())
    d.find_element(By.ID, "token").send_keys(TOKEN)
    d.find_element(By.CSS_SELECTOR, "#login button").click()
    return wait(d, lambda: d.find_element(By.ID, "who").text == "alice")


said = set()	# every line the console page showed


def console_lines(c):
    rows = c.execute_script(
        "return [...document.querySelectorAll('.xterm-rows > div')]"
        ".map(e => e.textContent)") or []
    said.update(r.strip() for r in rows if r.strip())


d = chrome("1280,720")
c = None
try:
    check("logged in", login(d))
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
    # n1's console in a second browser, for the whole deployment
    c = chrome("1280,720")
    login(c)
    c.get(U + "/web#/console/n1")
    check("n1's console page attaches during the deployment",
          wait(c, lambda: c.find_element(By.ID, "console-status").text
               == "attached"))
    t0, shot = time.time(), False
    while time.time() - t0 < 300:
        console_lines(c)
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
    check("the console page showed the agent at work",
          any("pipol-agent" in s for s in said), str(sorted(said))[-600:])
    check("... and then the deployed system's line",
          wait(c, lambda: console_lines(c) or
               "pipol-testimg: up n1" in said, 60), str(sorted(said))[-600:])
    c.save_screenshot(os.path.join(SHOTS, "console-qemu.png"))
finally:
    d.quit()
    if c is not None:
        c.quit()
sys.exit(exit_status())
