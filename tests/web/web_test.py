#!/usr/bin/env python3
"""web_test.py CAROL_TOKEN DAVE_TOKEN -- the web interface in a real
headless Chromium (Selenium), against the pipold of tests/shell/web.sh
(WEB_URL; WEB_ADMIN an admin's token; WEB_SQL_HOST its PostgreSQL
socket folder; WEB_SHOTS where the screenshots go). Prints "ok - ..." or
"not ok - ..." per check, as tests/lib.sh does."""
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from webcheck import check, chrome, exit_status, wait

U = os.environ["WEB_URL"]
ADMIN = os.environ["WEB_ADMIN"]
SHOTS = os.environ["WEB_SHOTS"]
PGHOST = os.environ["WEB_SQL_HOST"]
CAROL, DAVE = sys.argv[1], sys.argv[2]


def sql(q):
    return subprocess.run(["psql", "-X", "-q", "-t", "-A", "-h", PGHOST, "-U",
                           "pipol", "-d", "pipol", "-c", q], capture_output=True,
                          text=True, check=True).stdout.strip()


def api(token, method, path, body=None):
    req = urllib.request.Request(U + path, method=method, headers={
        "Authorization": "Bearer " + token,
        "Content-Type": "application/json"},
        data=json.dumps(body).encode() if body is not None else None)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def shot(d, name):
    os.makedirs(SHOTS, exist_ok=True)
    d.save_screenshot(os.path.join(SHOTS, name + ".png"))



def find(d, sel, secs=10):
    """the element once the page has drawn it"""
    wait(d, lambda: d.find_elements(By.CSS_SELECTOR, sel), secs)
    return d.find_element(By.CSS_SELECTOR, sel)


def rows(d, sel="tbody tr"):
    return d.find_elements(By.CSS_SELECTOR, sel)


def text(d, sel):
    """the text of the first match, read at once in the page (None: none)"""
    return d.execute_script(
        "const e = document.querySelector(arguments[0]);"
        "return e ? e.innerText : null", sel)


d = chrome()
evil = None
try:
    # log in
    d.get(U + "/web")
    check("the login form", wait(d, lambda: d.find_element(By.ID, "login")
                                 .is_displayed()))
    d.find_element(By.ID, "token").send_keys("f" * 64)
    d.find_element(By.CSS_SELECTOR, "#login button").click()
    check("a wrong token: the refusal in one sentence",
          wait(d, lambda: text(d, "#error") == "no valid token"),
          text(d, "#error"))
    d.find_element(By.ID, "token").clear()
    d.find_element(By.ID, "token").send_keys(CAROL)
    d.find_element(By.CSS_SELECTOR, "#login button").click()
    check("logged in as carol", wait(d, lambda: text(d, "#who") == "carol"))
    cookies = {c["name"]: c for c in d.get_cookies()}
    c = cookies.get("pipol_session", {})
    check("the session cookie is HttpOnly and SameSite=Strict",
          c.get("httpOnly") and c.get("sameSite") == "Strict", str(c))

    # nodes: 20 a page, the next page, a filter
    check("nodes: the first page, 20 rows",
          wait(d, lambda: len(rows(d)) == 20), str(len(rows(d))))
    check("nodes: 1-20 of 25", text(d, "#range").strip() == "1–20 of 25",
          text(d, "#range"))
    shot(d, "nodes")
    d.find_element(By.ID, "next").click()
    check("nodes: next page, 21-25 of 25",
          wait(d, lambda: (text(d, "#range") or "").strip() == "21–25 of 25"
               and len(rows(d)) == 5))
    Select(d.find_element(By.ID, "f-profile")).select_by_value("uefi")
    check("nodes: filtered on uefi, 5 rows from offset 0",
          wait(d, lambda: "profile=uefi" in d.current_url and
               "offset=0" in d.current_url and len(rows(d)) == 5 and
               all(r.find_elements(By.TAG_NAME, "td")[1].text == "uefi"
                   for r in rows(d))))
    Select(d.find_element(By.ID, "f-profile")).select_by_value("")
    # the page is drawn again for the new filter: wait for it
    wait(d, lambda: "profile=" not in d.current_url and len(rows(d)) == 20)
    Select(find(d, "#f-state")).select_by_value("reserved")
    check("nodes: filtered on reserved, n01 held by alice",
          wait(d, lambda: [r.text.split()[:5] for r in rows(d)] ==
               [["n01", "pc-bios", "manual", "reserved", "alice"]]),
          str([r.text for r in rows(d)]))

    # reserve, extend, release
    d.get(U + "/web#/reservations")
    wait(d, lambda: d.find_elements(By.ID, "r-nodes"))
    d.find_element(By.ID, "r-nodes").send_keys("n03")
    d.find_element(By.CSS_SELECTOR, "#reserve button").click()
    check("reserve n03 from the form",
          wait(d, lambda: any("n03" in r.text and "running" in r.text
                              for r in rows(d))), str([r.text for r in rows(d)]))
    rid = sql("select max(r.id) from reservations r join users u on "
              "u.id = r.user_id where u.name = 'carol'")
    row = f'tr[data-resv="{rid}"]'
    end0 = sql(f"select upper(during) from reservations where id = {rid}")
    end_txt = text(d, row + " .end")
    d.find_element(By.CSS_SELECTOR, row + " .extend").click()
    check("extend by an hour from the page",
          wait(d, lambda: sql(f"select upper(during) - '{end0}'::timestamptz "
                              f"from reservations where id = {rid}") ==
               "01:00:00"))
    check("... and the page shows the new end",
          wait(d, lambda: text(d, row + " .end") not in (None, end_txt)))
    shot(d, "reservations")
    # another's node: the API's refusal, one sentence
    st, dr = api(DAVE, "POST", "/api/reservations",
                 {"nodes": ["n04"], "seconds": 3600})
    check("dave reserves n04 (API)", st == 201, str(dr))
    find(d, "#r-nodes").send_keys("n04")
    d.find_element(By.CSS_SELECTOR, "#reserve button").click()
    check("reserving dave's node: the refusal shown, one line",
          wait(d, lambda: (text(d, "#error") or "") != "" and
               "\n" not in text(d, "#error")), text(d, "#error"))
    check("dave's reservation is not on carol's page",
          not d.find_elements(By.CSS_SELECTOR, f'tr[data-resv="{dr["id"]}"]'))
    got = d.execute_async_script("""
        const done = arguments[arguments.length - 1];
        (async () => {
          const s = await (await fetch('/api/web/session')).json();
          const r = await fetch('/api/reservations/' + arguments[0] +
              '/release', {method: 'POST', headers: {'X-CSRF-Token': s.csrf}});
          done(r.status);
        })();""", dr["id"])
    check("carol's page cannot release dave's reservation: 404", got == 404,
          str(got))
    check("dave's reservation still runs", sql(
        f"select reservation_state(r) from reservations r where id = "
        f"{dr['id']}") == "running")

    # a page of another origin posts a form, and a fetch, at pipold
    ev_dir = tempfile.mkdtemp(prefix="pipol-evil.")
    with open(os.path.join(ev_dir, "evil.html"), "w") as f:
        f.write(f'<!doctype html><form id="f" method="post" enctype='
                f'"text/plain" action="{U}/api/reservations/{rid}/release">'
                f'<input name=\'{{"x":"\' value=\'"}}\'></form>'
                f'<script src="evil.js"></script>')
    with open(os.path.join(ev_dir, "evil.js"), "w") as f:
        f.write(f"fetch('{U}/api/reservations/{rid}/extend', {{method: "
                f"'POST', credentials: 'include', mode: 'no-cors', body: "
                f"'{{\"seconds\":7200}}'}}).finally(() => "
                f"document.getElementById('f').submit());")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **k):
            super().__init__(*a, directory=ev_dir, **k)

        def log_message(self, *a):
            pass
    evil = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=evil.serve_forever, daemon=True).start()
    end1 = sql(f"select upper(during) from reservations where id = {rid}")
    d.get(f"http://127.0.0.1:{evil.server_port}/evil.html")
    wait(d, lambda: U in d.current_url, 10)
    time.sleep(1)
    check("a cross-site form and fetch changed nothing",
          sql(f"select reservation_state(r) || ' ' || upper(during) from "
              f"reservations r where id = {rid}") == f"running {end1}",
          sql(f"select reservation_state(r), upper(during) from reservations r "
              f"where id = {rid}"))
    # release from the page
    d.get(U + "/web#/reservations")
    wait(d, lambda: d.find_elements(By.CSS_SELECTOR, row + " .release"))
    d.find_element(By.CSS_SELECTOR, row + " .release").click()
    check("release from the page",
          wait(d, lambda: sql(f"select state from reservations where id = "
                              f"{rid}") == "released"))

    # markup in fields users and nodes control is shown as text
    uid = sql("select id from users where name = 'carol'")
    nid = sql("select id from nodes where name = 'n05'")
    bad = '<img src=x onerror="window.__xss=1">'
    dep = sql(f"insert into deployments (node_id, image_name, image_version, "
              f"state, reason, user_id) values ({nid}, 'deb', 1, 'failed', "
              f"$q${bad}$q$, {uid}) returning id").splitlines()[0]
    d.get(U + "/web#/deployments")
    check("a reason with markup: shown as text",
          wait(d, lambda: text(d, f'tr[data-dep="{dep}"] .reason') == bad),
          text(d, f'tr[data-dep="{dep}"] .reason'))
    check("... no img element made, no script run",
          not d.find_elements(By.CSS_SELECTOR, "main img") and
          d.execute_script("return window.__xss === undefined"))

    # a deployment's page: states pushed by the stream, no reload
    nid = sql("select id from nodes where name = 'n06'")
    dep = sql(f"insert into deployments (node_id, image_name, image_version, "
              f"state, user_id, bytes_total) values ({nid}, 'deb', 1, "
              f"'writing', {uid}, 100000000) returning id").splitlines()[0]
    d.get(U + f"/web#/deployment/{dep}")
    d.execute_script("window.__noreload = 1")
    check("deployment page: live",
          wait(d, lambda: text(d, "#stream") == "live" and
               d.find_elements(By.CSS_SELECTOR, f'[data-dep="{dep}"]')))
    for st, w in (("writing", 30000000), ("writing", 70000000),
                  ("postinstall", 100000000)):
        sql(f"update deployments set state = '{st}', bytes_written = {w} "
            f"where id = {dep}")
        time.sleep(1.3)
    sql(f"insert into deployment_logs (deployment_id, script, status, output) "
        f"values ({dep}, 'motd', 0, $q$<script>window.__xss=2</script>$q$)")
    shot(d, "deployment")
    sql(f"update deployments set state = 'ready' where id = {dep}")
    check("deployment page: ready arrives without a reload",
          wait(d, lambda: (text(d, f'[data-dep="{dep}"] .state') or "") ==
               "ready", 15) and d.execute_script(
                   "return window.__noreload === 1"))
    seen = d.execute_script(
        "return [...document.querySelectorAll('#seen li')].map(e => "
        "e.textContent)")
    check("deployment page: the stream brought writing, postinstall, ready",
          seen == [f"{dep} writing", f"{dep} postinstall", f"{dep} ready"],
          str(seen))
    check("deployment page: the output as text",
          "<script>window.__xss=2</script>" in d.find_element(
              By.ID, "live").text and d.execute_script(
                  "return window.__xss === undefined"))
    check("deployment page: the stream ended",
          wait(d, lambda: text(d, "#stream") == "stream ended: done"))

    # the chart: carol's reservation highlighted, her queued request
    # hatched, dave's not hers to see
    st, mine = api(CAROL, "POST", "/api/reservations",
                   {"nodes": ["n07"], "seconds": 7200})
    st2, q = api(CAROL, "POST", "/api/reservations",
                 {"nodes": ["n04"], "seconds": 3600, "asap": True})
    check("carol: a reservation and a queued request (API)",
          st == 201 and st2 in (201, 202), f"{st} {mine} {st2} {q}")
    d.get(U + "/web#/chart")
    check("chart: carol's reservation, highlighted",
          wait(d, lambda: any(e.text.startswith(f"#{mine['id']} carol")
                              for e in d.find_elements(
                                  By.CSS_SELECTOR, "#gantt .slot.mine"))))
    check("chart: her queued request, where the scheduler expects it",
          any(e.text.startswith(f"#{q.get('id')} carol") for e in
              d.find_elements(By.CSS_SELECTOR, "#gantt .slot.queued")),
          str([e.text for e in d.find_elements(By.CSS_SELECTOR,
                                               "#gantt .slot")]))
    check("chart: dave's reservation is not carol's to see",
          not [e for e in d.find_elements(By.CSS_SELECTOR, "#gantt .slot")
               if "dave" in e.text])
    shot(d, "chart")
    check("no Admin link for carol",
          not d.find_element(By.ID, "nav-admin").is_displayed())
    d.get(U + "/web#/admin")
    check("carol's #/admin: admins only",
          wait(d, lambda: text(d, "#error") == "admins only"))
    d.get(U + "/web#/docs")
    check("docs: the user guide rendered",
          wait(d, lambda: d.find_elements(By.CSS_SELECTOR, ".doc h1")))
    shot(d, "docs")
    d.get(U + "/web#/images")
    check("images page", wait(d, lambda: text(d, "h1") == "Images"))
    d.find_element(By.CSS_SELECTOR, 'a.packages-link[href$="/deb:1"]').click()
    check("an image's packages: the list read at validation",
          wait(d, lambda: text(d, "#pkg-count") == "3 of 3 packages"),
          text(d, "#pkg-count"))
    d.find_element(By.ID, "pkg-q").send_keys("z")
    check("... searched as one types",
          wait(d, lambda: [r.text.split()[0] for r in rows(d)] ==
               ["tzdata", "zlib1g"]), str([r.text for r in rows(d)]))
    shot(d, "packages")
    # jobs: carol's history (as pipol sub leaves it) drawn as the matrix
    cid = sql("select id from users where name = 'carol'")
    j1 = sql("insert into jobs (user_id, name, argv, images, per_image, "
             f"secs, state) values ({cid}, 'build', '[\"make\"]', "
             "'{debian12,centos9}', 1, 3600, 'done') returning id")
    sql("insert into job_runs (job_id, image, reservation_id, state, "
        "exit_status, started, ended, seconds) values "
        f"({j1}, 'debian12', 0, 'exited', 0, now(), now(), 5), "
        f"({j1}, 'centos9', 0, 'exited', 2, now(), now(), 6)")
    j2 = sql("insert into jobs (user_id, name, argv, images, per_image, "
             f"secs, state) values ({cid}, 'tests', '[\"make\", \"check\"]', "
             "'{debian12}', 1, 3600, 'failed') returning id")
    sql("insert into job_runs (job_id, image, reservation_id, state, reason, "
        f"ended) values ({j2}, 'debian12', 0, 'deploy_failed', "
        "'n07: deployment failed', now())")
    d.get(U + "/web#/jobs")
    check("jobs page", wait(d, lambda: text(d, "h1") == "Jobs"))

    def matrix():
        return d.execute_script(
            "return [...document.querySelectorAll('#matrix tr')].map(r => "
            "[...r.children].map(c => (c.className || '') + ':' + "
            "c.innerText.split('\\n')[0].trim()))")
    want = [[":job", ":centos9", ":debian12"],
            [":build", "result result-failed:failed",
             "result result-passed:passed"],
            [":tests", "result result-none:–",
             "result result-deploy_failed:deploy_failed"]]
    check("jobs: the portability matrix, a row per job, a column per image",
          wait(d, lambda: matrix() == want), str(matrix()))
    shot(d, "jobs")

    # logout: the cookie opens nothing
    d.find_element(By.ID, "logout").click()
    check("logout: the login form", wait(d, lambda: d.find_element(
        By.ID, "login").is_displayed()))
    st = d.execute_async_script("""
        const done = arguments[arguments.length - 1];
        fetch('/api/whoami').then(r => done(r.status));""")
    check("logout: the old session is 401", st == 401, str(st))
    # an admin: the Admin page adds a queue
    d.find_element(By.ID, "token").send_keys(ADMIN)
    d.find_element(By.CSS_SELECTOR, "#login button").click()
    check("the admin logs in, sees Admin", wait(
        d, lambda: d.find_element(By.ID, "nav-admin").is_displayed()))
    d.get(U + "/web#/admin")
    wait(d, lambda: d.find_elements(By.ID, "a-q-name"))
    d.find_element(By.ID, "a-q-name").send_keys("night")
    d.find_element(By.CSS_SELECTOR, "#a-queue button").click()
    check("Admin: a queue added from the form",
          wait(d, lambda: sql("select max_nodes from queues where name = "
                              "'night'") == "8"))
    # a node added, then set (flavour, wipe), from the forms
    d.find_element(By.ID, "a-n-name").send_keys("n-adm")
    d.find_element(By.ID, "a-n-mac").send_keys("52:54:00:00:99:01")
    d.find_element(By.CSS_SELECTOR, "#a-node button").click()
    check("Admin: a node added from the form",
          wait(d, lambda: sql("select profile || ' ' || power_driver from "
                              "nodes where name = 'n-adm'") == "pc-bios manual"))
    wait(d, lambda: d.find_elements(By.ID, "a-s-name"))
    d.find_element(By.ID, "a-s-name").send_keys("n-adm")
    d.find_element(By.ID, "a-s-env").send_keys("generic")
    Select(d.find_element(By.ID, "a-s-wipe")).select_by_value("on")
    d.find_element(By.CSS_SELECTOR, "#a-set button").click()
    check("Admin: the node set (flavour generic, wipe on)",
          wait(d, lambda: sql("select (boot_params->>'flavour') || ' ' || "
                              "wipe from nodes where name = 'n-adm'") ==
               "generic true"))
    # a user added: the token shown once works; a second token for them
    wait(d, lambda: d.find_elements(By.ID, "a-u-name"))
    d.find_element(By.ID, "a-u-name").send_keys("erin")
    d.find_element(By.CSS_SELECTOR, "#a-user button").click()
    wait(d, lambda: "shown once" in (text(d, "#a-token") or ""))
    tok = (text(d, "#a-token") or "").split()[-1]
    st, who = api(tok, "GET", "/api/whoami")
    check("Admin: a user added, their token shown works",
          st == 200 and who.get("user") == "erin", f"{st} {who}")
    d.find_element(By.ID, "a-t-user").send_keys("erin")
    d.find_element(By.ID, "a-t-name").send_keys("laptop")
    d.find_element(By.CSS_SELECTOR, "#a-tok button").click()
    wait(d, lambda: "new token laptop" in (text(d, "#a-token") or ""))
    tok2 = (text(d, "#a-token") or "").split()[-1]
    st, who = api(tok2, "GET", "/api/whoami")
    check("Admin: a second token for erin, shown once, works",
          tok2 != tok and st == 200 and who.get("user") == "erin",
          f"{st} {who}")
    # a licence; a bad name refused in one sentence
    for name in ("matlab", "bad name!"):
        wait(d, lambda: d.find_elements(By.ID, "a-l-name"))
        d.find_element(By.ID, "a-l-name").send_keys(name)
        f = d.find_element(By.ID, "a-l-total")
        f.clear()
        f.send_keys("3")
        d.find_element(By.CSS_SELECTOR, "#a-lic button").click()
        wait(d, lambda: sql("select total from licences where name = "
                            "'matlab'") == "3" and name == "matlab" or
             text(d, "#error"))
    check("Admin: a licence added, in the table",
          wait(d, lambda: any(r.text.split()[:2] == ["matlab", "3"]
                              for r in rows(d))))
    err = text(d, "#error") or ""
    check("Admin: a bad licence name: the API's refusal, one sentence",
          "name" in err and "\n" not in err.strip() and
          sql("select count(*) from licences where name = 'bad name!'") == "0",
          repr(err))
    # an image version promoted with its button
    deb = [r for r in rows(d) if r.text.split()[:3] == ["deb", "1", "validated"]]
    check("Admin: deb:1 listed, validated", len(deb) == 1)
    if deb:
        [b for b in deb[0].find_elements(By.TAG_NAME, "button")
         if b.text == "promote"][0].click()
        check("Admin: deb:1 promoted with its button", wait(d, lambda: any(
            r.text.split()[:3] == ["deb", "1", "current"] for r in rows(d))))
        st, img = api(ADMIN, "GET", "/api/images/deb")
        check("... as the API says", st == 200 and img.get("current") == 1,
              f"{st} {img}")
    shot(d, "admin")
    logs = [e for e in d.get_log("browser")
            if "Content Security Policy" in e.get("message", "")]
    check("no CSP violation in the console", not logs, str(logs))
finally:
    if evil:
        evil.shutdown()
    d.quit()
sys.exit(exit_status())
