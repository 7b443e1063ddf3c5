#!/usr/bin/env python3
# NAME
#   production-config.py - write the packaged /etc/meshgate/meshgate.yaml from conf/meshgate.yaml
#
# SYNOPSIS
#   packaging/production-config.py conf/meshgate.yaml OUTPUT
#
# DESCRIPTION
#   The Debian package's configuration is the project's complete, commented example with the
#   values a system install needs: absolute paths under /var/lib/meshgate, the milter socket in
#   /var/spool/postfix/meshgate/ (reachable by Postfix's chrooted smtpd, group postfix), the
#   unprivileged user meshgate, the node name left to the host name. Deriving it at package time
#   (instead of keeping a second copy) means every key and comment added to conf/meshgate.yaml
#   is shipped too. Each replaced key must be found exactly once, in its section, with the
#   value expected; otherwise this fails, naming the key, so that a change to the example is
#   noticed here instead of producing a wrong system configuration.
#
# DIAGNOSTICS
#   Exit 1 with "conf/meshgate.yaml: section.key: ..." when a replacement does not apply.
import re
import sys

HEADER_OLD = re.compile(
    r"# This file serves the demo domain example\.com from the project directory:.*?\n"
    r"(#.*\n)*?(?=\n)")
HEADER_NEW = """\
# This is the system configuration installed by the Debian package meshgate (a conffile: your
# changes are kept on upgrade). Set gateway.domains, then:
#   meshgate check-config /etc/meshgate/meshgate.yaml && systemctl restart meshgate
# Data (store, keys, TLS) lives in /var/lib/meshgate; the milter socket is in
# /var/spool/postfix/meshgate/ so that Postfix's chrooted smtpd reaches it as
# unix:meshgate/milter.sock. Examples: /usr/share/doc/meshgate/examples/.
"""

# (section, key, value in conf/meshgate.yaml, value in the package; None = comment the line
# out so the default applies)
REPLACEMENTS = [
    ("gateway", "node", "mx1.example.com", None),
    ("gateway", "data_dir", "./var", "/var/lib/meshgate"),
    ("gateway", "key_file", "./var/keys/gateway.key", "/var/lib/meshgate/keys/gateway.key"),
    ("gateway", "user", '""', "meshgate"),
    ("store", "path", "./var/meshgate.db", "/var/lib/meshgate/meshgate.db"),
    ("milter", "socket", "unix:./var/run/milter.sock",
     "unix:/var/spool/postfix/meshgate/milter.sock"),
    ("milter", "socket_group", '""', "postfix"),
    ("mesh_service", "certificate", "./var/tls/service.crt",
     "/var/lib/meshgate/tls/service.crt"),
    ("mesh_service", "private_key", "./var/tls/service.key",
     "/var/lib/meshgate/tls/service.key"),
]


def main(argv):
    if len(argv) != 3:
        print("usage: production-config.py conf/meshgate.yaml OUTPUT", file=sys.stderr)
        return 2
    src, out = argv[1], argv[2]
    with open(src) as f:
        text = f.read()
    errors = []

    text, n = HEADER_OLD.subn(HEADER_NEW, text, count=1)
    if n != 1:
        errors.append("%s: the header paragraph \"This file serves the demo domain ...\" is "
                      "gone; update HEADER_OLD in %s" % (src, argv[0]))

    lines = text.split("\n")
    for sec, key, old, new in REPLACEMENTS:
        hits = []
        section = None
        for i, line in enumerate(lines):
            m = re.match(r"^([a-z_]+):\s*$", line)
            if m:
                section = m.group(1)
                continue
            m = re.match(r"^(\s+)%s:\s*(.*?)\s*$" % re.escape(key), line)
            if m and section == sec:
                hits.append((i, m.group(1), m.group(2)))
        if len(hits) != 1:
            errors.append("%s: %s.%s: found %d times in that section, expected once" %
                          (src, sec, key, len(hits)))
            continue
        i, indent, value = hits[0]
        if value != old:
            errors.append("%s:%d: %s.%s is %s, expected %s; update %s" %
                          (src, i + 1, sec, key, value, old, argv[0]))
            continue
        if new is None:
            lines[i] = "%s# %s: %s" % (indent, key, value)
        else:
            lines[i] = "%s%s: %s" % (indent, key, new)
    text = "\n".join(lines)

    leftover = [n + 1 for n, line in enumerate(text.split("\n"))
                if re.match(r"^\s+[a-z_]+:.*\./var", line)]
    if leftover:
        errors.append("%s: line(s) %s still use a relative ./var path: add them to "
                      "REPLACEMENTS in %s" % (src, ", ".join(map(str, leftover)), argv[0]))
    if errors:
        for e in errors:
            print(e, file=sys.stderr)
        return 1
    with open(out, "w") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
