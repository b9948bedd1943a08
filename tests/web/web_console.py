#!/usr/bin/env python3
"""web_console.py ALICE_TOKEN BOB_TOKEN -- the console page in a real
headless Chromium (Selenium), against the pipold and the fake serial
line of tests/shell/console.sh (WEB_URL; WEB_CONSOLE_LOG the console log
of alice's deployment on n1; WEB_SHOTS where the screenshots go): alice,
who holds n1, opens its console from the node list; xterm.js shows what
the node says; keys typed in the page reach the node; the terminal's
<style>s pass the page's CSP (its nonce), nothing is refused; bob is
told in one sentence that n1 is not his."""
import os
import sys

from selenium.webdriver.common.by import By

from webcheck import check, chrome, exit_status, wait

U = os.environ["WEB_URL"]
LOG = os.environ["WEB_CONSOLE_LOG"]
SHOTS = os.environ["WEB_SHOTS"]
ALICE, BOB = sys.argv[1], sys.argv[2]


def text(d, sel):
    return d.execute_script(
        "const e = document.querySelector(arguments[0]);"
        "return e ? e.textContent : null", sel)


def login(d, token, name):
    d.delete_all_cookies()
    d.get(U + "/web")
    wait(d, lambda: d.find_element(By.ID, "login").is_displayed())
    d.find_element(By.ID, "token").send_keys(token)
    d.find_element(By.CSS_SELECTOR, "#login button").click()
    return wait(d, lambda: text(d, "#who") == name)


def logged():
    try:
        return open(LOG, "rb").read().decode(errors="replace")
    except OSError:
        return ""


d = chrome()
try:
    check("alice logs in", login(d, ALICE, "alice"))
    check("the node list links her node's console",
          wait(d, lambda: d.find_elements(
              By.CSS_SELECTOR, 'tr[data-node="n1"] a.console-link')))
    d.find_element(By.CSS_SELECTOR, 'tr[data-node="n1"] a.console-link').click()
    check("the console page: attached",
          wait(d, lambda: text(d, "#console-status") == "attached"),
          text(d, "#console-status"))
    check("xterm.js shows what pipold and the node say",
          wait(d, lambda: "[pipol: n1: console attached]" in
               (text(d, ".xterm-rows") or "")), text(d, ".xterm-rows"))
    d.find_element(By.CSS_SELECTOR, ".xterm-helper-textarea").send_keys(
        "pagekeys\n")
    check("keys typed in the page reach the node (its log)",
          wait(d, lambda: "pagekeys" in logged()), logged()[-200:])
    check("... and its echo is on the page",
          wait(d, lambda: (text(d, ".xterm-rows") or "").count("pagekeys") >= 1),
          text(d, ".xterm-rows"))
    d.find_element(By.CSS_SELECTOR, ".xterm-helper-textarea").send_keys(
        "boot\n")
    check("the node's own words follow",
          wait(d, lambda: "fake-node: booting" in (text(d, ".xterm-rows") or "")))
    sheets = d.execute_script(
        "return [...document.querySelectorAll('style')].map(s => "
        "[s.nonce !== '', s.sheet !== null])")
    check("xterm's <style>s carry the page's nonce and apply",
          len(sheets) > 0 and all(n and s for n, s in sheets), str(sheets))
    refused = [e["message"] for e in d.get_log("browser")
               if "Content Security Policy" in e["message"]]
    check("nothing refused by the CSP", refused == [], str(refused))
    os.makedirs(SHOTS, exist_ok=True)
    d.save_screenshot(os.path.join(SHOTS, "console.png"))

    check("bob logs in", login(d, BOB, "bob"))
    d.get(U + "/web#/console/n1")
    check("bob on n1's console: told it is not his, no terminal",
          wait(d, lambda: text(d, "#error") ==
               "node n1: not in a running reservation of yours") and
          not d.find_elements(By.CSS_SELECTOR, ".xterm"), text(d, "#error"))
finally:
    d.quit()
sys.exit(exit_status())
