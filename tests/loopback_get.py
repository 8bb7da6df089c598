#!/usr/bin/env python3
"""GET a URL on the loopback address and copy the body to stdout as it comes.

tests/web_test.sh reads duijie-web's pages, JSON endpoints and its live
event stream with this instead of a download tool: it refuses any host but
127.0.0.1, so a test can only ever talk to the server it started.

usage: loopback_get.py URL            body to stdout; exit 1 on an HTTP error
       loopback_get.py --status URL   only the HTTP status code
"""
import http.client
import sys
import urllib.parse


def main(argv):
    status_only = len(argv) == 3 and argv[1] == "--status"
    if len(argv) != (3 if status_only else 2):
        print(__doc__, file=sys.stderr)
        return 2
    url = urllib.parse.urlsplit(argv[-1])
    if url.scheme != "http" or url.hostname != "127.0.0.1":
        print(f"loopback_get: {argv[-1]} is not on http://127.0.0.1", file=sys.stderr)
        return 2
    target = url.path or "/"
    if url.query:
        target += "?" + url.query
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    conn.request("GET", target)
    response = conn.getresponse()
    if status_only:
        print(response.status)
        return 0
    out = sys.stdout.buffer
    # read1 returns what has arrived, so a stream's events show as they come.
    while True:
        chunk = response.read1(65536)
        if not chunk:
            break
        out.write(chunk)
        out.flush()
    return 0 if response.status < 400 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
