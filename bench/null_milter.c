/*
 * NAME
 *   null_milter - the baseline for bench/milter_bench.sh: a libmilter milter that does
 *   nothing but add one header to every message.
 *
 * SYNOPSIS
 *   null_milter [-a] unix:/path/to/socket [MODE]     (MODE: octal socket mode, default 0666)
 *
 * DESCRIPTION
 *   By default it registers only the callbacks a minimal filter needs: envfrom (to start a
 *   message) and eom (smfi_addheader "X-Null-Milter: 1"). It negotiates SMFIF_ADDHDRS only,
 *   and skips every protocol step it has no callback for (connect, helo, rcpt, headers, end
 *   of headers, body, unknown, data), so that the MTA does not send them: the cheapest a
 *   milter doing one header edit can be, the strictest yardstick for meshgate.
 *
 *   With -a it also registers connect, helo, rcpt, header, eoh and body callbacks that only
 *   continue, and skips only unknown commands and DATA, as meshgate does: the same protocol
 *   conversation as meshgate with no work in it, which isolates meshgate's own cost.
 *
 *   Runs until SIGTERM/SIGINT (libmilter's signal thread stops it).
 *
 * SECURITY
 *   A benchmark tool: trusts nothing, keeps nothing, writes nothing but its socket.
 */
#include <libmilter/mfapi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static sfsistat on_envfrom(SMFICTX *ctx, char **argv) {
  (void)ctx;
  (void)argv;
  return SMFIS_CONTINUE;
}

static sfsistat on_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *addr) {
  (void)ctx;
  (void)host;
  (void)addr;
  return SMFIS_CONTINUE;
}

static sfsistat on_helo(SMFICTX *ctx, char *helo) {
  (void)ctx;
  (void)helo;
  return SMFIS_CONTINUE;
}

static sfsistat on_header(SMFICTX *ctx, char *name, char *value) {
  (void)ctx;
  (void)name;
  (void)value;
  return SMFIS_CONTINUE;
}

static sfsistat on_ctx(SMFICTX *ctx) {
  (void)ctx;
  return SMFIS_CONTINUE;
}

static sfsistat on_body(SMFICTX *ctx, unsigned char *chunk, size_t len) {
  (void)ctx;
  (void)chunk;
  (void)len;
  return SMFIS_CONTINUE;
}

static int all_steps = 0;

static sfsistat on_eom(SMFICTX *ctx) {
  if (smfi_addheader(ctx, "X-Null-Milter", "1") != MI_SUCCESS) return SMFIS_TEMPFAIL;
  return SMFIS_CONTINUE;
}

static sfsistat on_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
                             unsigned long f3, unsigned long *pf0, unsigned long *pf1,
                             unsigned long *pf2, unsigned long *pf3) {
  (void)ctx;
  (void)f2;
  (void)f3;
  unsigned long skip = SMFIP_NOUNKNOWN | SMFIP_NODATA;
  if (!all_steps) {
    skip |= SMFIP_NOCONNECT | SMFIP_NOHELO | SMFIP_NORCPT | SMFIP_NOHDRS | SMFIP_NOEOH |
            SMFIP_NOBODY;
  }
  *pf0 = f0 & SMFIF_ADDHDRS;
  *pf1 = f1 & skip;
  *pf2 = 0;
  *pf3 = 0;
  return SMFIS_CONTINUE;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "-a") == 0) {
    all_steps = 1;
    --argc;
    ++argv;
  }
  if (argc < 2 || strncmp(argv[1], "unix:", 5) != 0) {
    fprintf(stderr, "usage: null_milter [-a] unix:/path/to/socket [MODE]\n");
    return 2;
  }
  mode_t mode = argc > 2 ? (mode_t)strtoul(argv[2], NULL, 8) : 0666;
  struct smfiDesc desc;
  memset(&desc, 0, sizeof desc);
  desc.xxfi_name = "null_milter";
  desc.xxfi_version = SMFI_VERSION;
  desc.xxfi_flags = SMFIF_ADDHDRS;
  desc.xxfi_envfrom = on_envfrom;
  desc.xxfi_eom = on_eom;
  desc.xxfi_negotiate = on_negotiate;
  if (all_steps) {
    desc.xxfi_connect = on_connect;
    desc.xxfi_helo = on_helo;
    desc.xxfi_envrcpt = on_envfrom;
    desc.xxfi_header = on_header;
    desc.xxfi_eoh = on_ctx;
    desc.xxfi_body = on_body;
    desc.xxfi_abort = on_ctx;
    desc.xxfi_close = on_ctx;
  }
  if (smfi_register(desc) != MI_SUCCESS || smfi_setconn(argv[1]) != MI_SUCCESS ||
      smfi_opensocket(1) != MI_SUCCESS) {
    fprintf(stderr, "null_milter: cannot listen on %s\n", argv[1]);
    return 1;
  }
  if (chmod(argv[1] + 5, mode) != 0) {
    perror("null_milter: chmod");
    return 1;
  }
  fprintf(stderr, "null_milter: ready on %s (%s)\n", argv[1],
          all_steps ? "every step, like meshgate" : "envfrom and eom only");
  return smfi_main() == MI_SUCCESS ? 0 : 1;
}
