#!/usr/bin/env python3
# NAME
#   resolver_tests.py - the profile resolver between two real meshgate Mesh services on
#   loopback (issue 4 item 6): example.com and example.net, each `meshgate policy` with its own
#   configuration, SQLite store, gateway key and self-signed TLS certificate; each pins the
#   other's certificate (resolver.trusted_certificates) and names its URL (resolver.services).
#
# SYNOPSIS
#   resolver_tests.py NAME --meshgate build/h-resolver/cli/meshgate
#   (ctest runs each NAME as integration.resolver.NAME; see tests.cmake)
#
# DESCRIPTION
#   cross_domain     accounts made with `meshgate account create` on each side;
#                    `meshgate profile show user@example.net --config A.yaml` (and the reverse)
#                    resolves over HTTPS, verifies, and prints the profile whose UDF
#                    `meshgate account list` shows on the other side; --json gives the same;
#                    an unknown address and an unknown domain are "no Mesh profile".
#   tampered_profile A asks example.net through a TLS proxy (presenting example.net's
#                    certificate, so TLS succeeds) that changes ONE byte of the profile in the
#                    GetResponse: the profile is refused, the error says the signature does
#                    not verify, and nothing is printed as a profile. The same proxy passing
#                    bytes through unchanged resolves, so the refusal is the tampering's.
#   silent_service   resolver.services names a port that accepts and never answers: profile
#                    show fails with a timeout within resolver.total_timeout (not Postfix's 30 s).
#
#   No Postfix here: only the Mesh services, the CLI and Python's ssl module.
import base64
import http.client
import json
import os
import socket
import ssl
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from mgharness import (check, free_port, log, run, run_tests, wait_port)  # noqa: E402


class Side:
    """One organization: a meshgate with its own domain, Mesh service port and certificate."""

    def __init__(self, h, name, domain):
        self.h = h
        self.domain = domain
        self.mg = h.meshgate(name)
        self.port = free_port()
        self.tls_dir = os.path.join(self.mg.dir, "var", "tls")
        self.cert = os.path.join(self.tls_dir, "service.crt")
        self.key = os.path.join(self.tls_dir, "service.key")

    def write_config(self, peers, path=None, total_timeout="5s"):
        """peers: list of (domain, url, certificate file)."""
        d = self.mg.dir
        services = "".join("    %s: %s\n" % (dom, url) for dom, url, _ in peers) or "    {}\n"
        certs = ", ".join(cert for _, _, cert in peers)
        text = f"""# written by tests/integration/resolver_tests.py
gateway:
  node: mesh.{self.domain}
  domains: [{self.domain}]
  data_dir: {d}/var
  key_file: {d}/var/keys/gateway.key
store:
  backend: sqlite
  sqlite:
    path: {d}/var/meshgate.db
milter:
  enabled: false
policyd:
  enabled: false
mesh_service:
  enabled: true
  listen: 127.0.0.1:{self.port}
  service_name: {self.domain}
  tls:
    certificate: {self.cert}
    private_key: {self.key}
    create_self_signed: true
resolver:
  discovery: false
  connect_timeout: 1s
  total_timeout: {total_timeout}
  services:
{services}  trusted_certificates: [{certs}]
"""
        path = path or self.mg.config_path
        with open(path, "w") as f:
            f.write(text)
        return path

    @property
    def url(self):
        return "https://127.0.0.1:%d/.well-known/mmm/" % self.port

    def start(self):
        self.mg.start("policy")
        wait_port(self.port, self.h.scaled(10), "meshgate policy for " + self.domain)
        check(os.path.exists(self.cert), "no self-signed certificate at " + self.cert)

    def cli(self, *args, config=None, check_rc=True):
        cmd = [self.mg.binary] + list(args) + ["--config", config or self.mg.config_path]
        return run(cmd, timeout=self.h.scaled(60), check_rc=check_rc)


def two_sides(h):
    a = Side(h, "a", "example.com")
    b = Side(h, "b", "example.net")
    # The certificates are made on first start, so each side starts once with no peers,
    # then gets the other's certificate pinned.
    a.write_config([])
    b.write_config([])
    a.start()
    b.start()
    a.write_config([("example.net", b.url, b.cert)])
    b.write_config([("example.com", a.url, a.cert)])
    return a, b


def account_udfs(side):
    """address -> profile UDF, from `meshgate account list`."""
    out = side.cli("account", "list").stdout
    udfs = {}
    for line in out.splitlines():
        fields = line.split()
        if fields:
            udfs[fields[0]] = fields[-1]
    return udfs


def profile_show(side, address, *extra, config=None):
    p = side.cli("profile", "show", address, *extra, config=config, check_rc=False)
    return p.returncode, p.stdout, p.stderr


def test_cross_domain(h):
    a, b = two_sides(h)
    a.cli("account", "create", "alice@example.com", "--ingress", "contacts-only")
    b.cli("account", "create", "bob@example.net")
    a_udfs, b_udfs = account_udfs(a), account_udfs(b)
    check(a_udfs.get("alice@example.com", "-").startswith("MB"),
          "account list does not show alice's profile UDF: %r" % a_udfs)
    check(b_udfs.get("bob@example.net", "-").startswith("MB"),
          "account list does not show bob's profile UDF: %r" % b_udfs)

    rc, out, err = profile_show(a, "bob@example.net")
    print(out, err, flush=True)
    check(rc == 0, "example.com could not resolve bob@example.net (exit %d): %s" % (rc, err))
    check("profile:    %s" % b_udfs["bob@example.net"] in out,
          "the profile shown is not the one example.net made: %s" % out)
    check("Mesh service" in out and b.url in out, "the source is not example.net's service: %s"
          % out)
    check("KeyEncryption" in out and "X25519" in out, "no encryption key shown: %s" % out)

    rc, out, err = profile_show(b, "alice@example.com", "--json")
    check(rc == 0, "example.net could not resolve alice@example.com (exit %d): %s" % (rc, err))
    j = json.loads(out)
    check(j["ProfileUDF"] == a_udfs["alice@example.com"], "wrong profile: %s" % out)
    check(j["Verified"] is True and "ProfileAccount" in j["Profile"], "bad JSON: %s" % out)
    check(j["Profile"]["ProfileAccount"]["AccountAddresses"] == ["alice@example.com"],
          "profile lists %r" % j["Profile"]["ProfileAccount"].get("AccountAddresses"))

    # Local accounts come from the store, never over the network.
    rc, out, err = profile_show(a, "alice@example.com")
    check(rc == 0 and "local store" in out, "local profile not shown (exit %d): %s%s" %
          (rc, out, err))

    rc, out, err = profile_show(a, "nobody@example.net")
    check(rc == 1 and "no Mesh profile" in err, "unknown remote account: exit %d, %s" % (rc, err))
    rc, out, err = profile_show(a, "someone@example.org")
    check(rc == 1 and "no Mesh profile" in err and "resolver.discovery is off" in err,
          "unlisted domain: exit %d, %s" % (rc, err))
    a.mg.stop()
    b.mg.stop()


class TamperingProxy:
    """TLS in front of a Mesh service: presents the service's own certificate (so the client's
    pinning accepts it), forwards each request, and (when `tamper`) changes one byte of the
    profile payload in the answer."""

    def __init__(self, h, cert, key, upstream_port, tamper):
        self.port = free_port()
        self.upstream_port = upstream_port
        self.tamper = tamper
        self.tampered = 0
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(8)
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()
        h.on_teardown(self.stop, "tampering proxy")

    def stop(self):
        self.stopping = True
        try:
            self.sock.close()
        except OSError:
            pass
        return []

    def _serve(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            try:
                with self.context.wrap_socket(conn, server_side=True) as tls:
                    tls.settimeout(10)
                    self._one(tls)
            except (OSError, ssl.SSLError) as e:
                log("proxy: %s" % e)

    def _one(self, tls):
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = tls.recv(4096)
            if not chunk:
                return
            data += chunk
        head, body = data.split(b"\r\n\r\n", 1)
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(body) < length:
            body += tls.recv(4096)
        upstream = http.client.HTTPSConnection(
            "127.0.0.1", self.upstream_port, timeout=10,
            context=ssl._create_unverified_context())
        upstream.request("POST", "/.well-known/mmm/", body=body,
                         headers={"Host": "example.net", "Content-Type": "application/json"})
        r = upstream.getresponse()
        answer = r.read()
        status = r.status
        upstream.close()
        if self.tamper:
            answer = self._tamper(answer)
        tls.sendall(b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                    b"Connection: close\r\n\r\n" % (status, len(answer)) + answer)

    def _tamper(self, answer):
        doc = json.loads(answer)
        items = doc.get("GetResponse", {}).get("DataItems", [])
        if not items or "Envelope" not in items[0]:
            return answer
        envelope = items[0]["Envelope"]
        payload_b64 = envelope[1]
        payload = bytearray(base64.urlsafe_b64decode(payload_b64 + "=" * (-len(payload_b64) % 4)))
        at = payload.find(b"bob@example.net")
        check(at >= 0, "the profile payload does not contain the address")
        payload[at] = ord("c")  # one byte: bob -> cob
        envelope[1] = base64.urlsafe_b64encode(bytes(payload)).decode().rstrip("=")
        self.tampered += 1
        return json.dumps(doc).encode()


def test_tampered_profile(h):
    a, b = two_sides(h)
    b.cli("account", "create", "bob@example.net")
    bob_udf = account_udfs(b)["bob@example.net"]

    honest = TamperingProxy(h, b.cert, b.key, b.port, tamper=False)
    honest_cfg = a.write_config([("example.net", "https://127.0.0.1:%d/" % honest.port, b.cert)],
                                path=os.path.join(a.mg.dir, "honest.yaml"))
    rc, out, err = profile_show(a, "bob@example.net", config=honest_cfg)
    check(rc == 0 and bob_udf in out, "through the pass-through proxy the profile must resolve "
          "(exit %d): %s%s" % (rc, out, err))

    proxy = TamperingProxy(h, b.cert, b.key, b.port, tamper=True)
    cfg = a.write_config([("example.net", "https://127.0.0.1:%d/" % proxy.port, b.cert)],
                         path=os.path.join(a.mg.dir, "tampered.yaml"))
    rc, out, err = profile_show(a, "bob@example.net", config=cfg)
    print(err, flush=True)
    check(proxy.tampered == 1, "the proxy did not tamper with a profile (%d)" % proxy.tampered)
    check(rc == 1, "a tampered profile was accepted (exit %d): %s" % (rc, out))
    check(out == "", "something was printed as a profile: %s" % out)
    check("profile refused" in err and ("does not verify" in err or "does not match" in err),
          "the error does not say the signature failed: %s" % err)
    check("127.0.0.1:%d" % proxy.port in err, "the error does not say where the profile came "
          "from: %s" % err)
    a.mg.stop()
    b.mg.stop()


def test_silent_service(h):
    a = Side(h, "a", "example.com")
    silent = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # connections complete in the backlog; nothing is ever sent
    port = silent.getsockname()[1]
    h.on_teardown(lambda: silent.close() or [], "silent listener")
    # A certificate file is needed for the pin; any will do, since no handshake completes.
    a.write_config([])
    a.start()
    a.mg.stop()
    cfg = a.write_config([("example.net", "https://127.0.0.1:%d/" % port, a.cert)],
                         total_timeout="3s")
    t0 = time.monotonic()
    rc, out, err = profile_show(a, "bob@example.net", config=cfg)
    took = time.monotonic() - t0
    print(err, flush=True)
    check(rc == 1 and "could not resolve" in err, "exit %d: %s" % (rc, err))
    check("timed out" in err or "in time" in err or "took longer" in err,
          "not reported as a timeout: %s" % err)
    # Bounded by resolver.connect_timeout/total_timeout, far below Postfix's 30 s (a wide
    # margin for a loaded machine: this checks the bound exists, not speed).
    check(took < h.scaled(15), "profile show took %.1fs against a silent service" % took)


TESTS = {
    "cross_domain": (test_cross_domain, {"postfix": False, "budget": 90}),
    "tampered_profile": (test_tampered_profile, {"postfix": False, "budget": 90}),
    "silent_service": (test_silent_service, {"postfix": False, "budget": 60}),
}

if __name__ == "__main__":
    sys.exit(run_tests(TESTS))
