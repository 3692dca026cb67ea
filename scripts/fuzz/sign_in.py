"""Signs in to the dashboard as a browser does and prints `SESSION_COOKIE CSRF_TOKEN`.

usage: sign_in.py BASE_URL USERNAME PASSWORD

GET /login sets the halyard_login_csrf cookie and puts the same token in the form; POST /login
with it and the credentials sets halyard_session; every signed-in page carries the session's
CSRF token in its forms' hidden `csrf` field.
"""
import re
import sys

import requests

CSRF_FIELD = re.compile(r'name="csrf"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf"')


def csrf_in(html: str) -> str:
    match = CSRF_FIELD.search(html)
    if not match:
        sys.exit("sign_in: no csrf field in the page")
    return match.group(1) or match.group(2)


def main() -> None:
    base, username, password = sys.argv[1:4]
    browser = requests.Session()
    form = browser.get(f"{base}/login", timeout=10)
    form.raise_for_status()
    answer = browser.post(
        f"{base}/login",
        data={"csrf": csrf_in(form.text), "username": username, "password": password},
        allow_redirects=False,
        timeout=10,
    )
    session = browser.cookies.get("halyard_session")
    if answer.status_code != 303 or not session:
        sys.exit(f"sign_in: POST /login answered {answer.status_code} without a session")
    page = browser.get(f"{base}/", timeout=10)
    page.raise_for_status()
    print(session, csrf_in(page.text))


if __name__ == "__main__":
    main()
