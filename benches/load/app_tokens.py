#!/usr/bin/env python3
"""Makes an app and COUNT PASETO tokens with contacts:read through a running
server's API, one per line in OUT: the tokens the load scripts cycle through.

  app_tokens.py API ADMIN_TOKEN COUNT OUT [APP_NAME]
"""
import json
import sys
import urllib.request

api, admin, count, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
name = sys.argv[5] if len(sys.argv) > 5 else "load"


def call(method, path, body=None):
    req = urllib.request.Request(api + path, method=method, data=json.dumps(body).encode() if body else None,
                                 headers={"Authorization": "Bearer " + admin, "Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req))


app = call("POST", "/v1/apps", {"name": name})["id"]
tokens = [call("POST", f"/v1/apps/{app}/tokens", {"scopes": ["contacts:read"], "expires_in": "2h",
                                                  "format": "paseto"})["token"] for _ in range(count)]
with open(out, "w") as f:
    f.write("\n".join(tokens) + "\n")
