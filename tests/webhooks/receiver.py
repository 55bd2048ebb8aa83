"""A webhook receiver for the tests: checks every delivery's signature with
the `standardwebhooks` package (the specification's own Python library, an
implementation independent of ours) and records what arrived.

    python3 receiver.py            # prints "listening PORT", then serves

Deliveries: any POST outside /_control. Control (JSON):
    POST /_control/secrets   {"secrets": ["whsec_…", …]}   the secrets to check with
    POST /_control/behaviour {"status": 200, "delay": 0.0}  how to answer
    GET  /_control/log       every delivery answered so far, in order
    GET  /_control/arrivals  the webhook-id of every delivery, as it arrives
"""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

lock = threading.Lock()
secrets = []
behaviour = {"status": 200, "delay": 0.0}
log = []
arrivals = []
in_flight = {}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body=b""):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/_control/log":
            with lock:
                self.answer(200, json.dumps(log).encode())
        elif self.path == "/_control/arrivals":
            with lock:
                self.answer(200, json.dumps(arrivals).encode())
        else:
            self.answer(404)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        if self.path == "/_control/secrets":
            with lock:
                secrets[:] = json.loads(body)["secrets"]
            return self.answer(204)
        if self.path == "/_control/behaviour":
            with lock:
                behaviour.update(json.loads(body))
            return self.answer(204)
        self.delivery(body)

    def delivery(self, body):
        headers = {k: v for k, v in self.headers.items()}
        message_id = self.headers.get("webhook-id", "")
        with lock:
            arrivals.append(message_id)
            current = list(secrets)
            status, delay = behaviour["status"], behaviour["delay"]
            overlapping = in_flight.get(message_id, 0) > 0
            in_flight[message_id] = in_flight.get(message_id, 0) + 1
        verified_by = []
        errors = []
        for index, secret in enumerate(current):
            try:
                Webhook(secret).verify(body, headers)
                verified_by.append(index)
            except WebhookVerificationError as e:
                errors.append(str(e))
        started = time.time()
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        if delay:
            time.sleep(delay)
        with lock:
            in_flight[message_id] -= 1
            log.append({
                "id": message_id,
                "timestamp": self.headers.get("webhook-timestamp"),
                "signatures": self.headers.get("webhook-signature", "").split(" "),
                "type": parsed.get("type") if isinstance(parsed, dict) else None,
                "body": parsed,
                "path": self.path,
                "verified_by": verified_by,
                "errors": errors,
                "overlapping": overlapping,
                "started": started,
                "finished": time.time(),
                "status": status if verified_by else 400,
            })
        self.answer(status if verified_by else 400, b'{"received": true}')


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(f"listening {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
