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
 *   With -a it holds the same protocol conversation as meshgate with no work in it, which
 *   isolates meshgate's own cost: it registers connect, rcpt, header, eoh, body, abort and
 *   close callbacks that only continue, and negotiates what meshgate negotiates (milter/
 *   milter_service.cc, onNegotiate): HELO, DATA and unknown commands skipped, no reply to
 *   connect, MAIL FROM, each header, the end of headers and each body chunk (so it answers
 *   only RCPT TO and end of message, as meshgate does); and instead of a one-line
 *   header it inserts one the size of meshgate's signal at index 0, as meshgate does.
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

/* Set in negotiation (-a) when the MTA agreed to send connect, MAIL FROM, headers, end of
 * headers and body without waiting for an answer (SMFIP_NR_*): those callbacks must then answer
 * NOREPLY. Every session of one bench run talks to the same MTA, so one flag serves all. */
static volatile int no_reply = 0;

static sfsistat content_step(void) { return no_reply ? SMFIS_NOREPLY : SMFIS_CONTINUE; }

static sfsistat on_envfrom(SMFICTX *ctx, char **argv) {
  (void)ctx;
  (void)argv;
  return content_step();
}

/* Answered without -a (the null milter's one round trip before end of message); with -a, as
 * meshgate, not answered. */
static sfsistat on_envfrom(SMFICTX* ctx, char** argv);

static sfsistat on_envrcpt(SMFICTX* ctx, char** argv) {
  (void)ctx;
  (void)argv;
  return SMFIS_CONTINUE;
}

static sfsistat on_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *addr) {
  (void)ctx;
  (void)host;
  (void)addr;
  return content_step();
}

static sfsistat on_header(SMFICTX *ctx, char *name, char *value) {
  (void)ctx;
  (void)name;
  (void)value;
  return content_step();
}

static sfsistat on_eoh(SMFICTX *ctx) {
  (void)ctx;
  return content_step();
}

static sfsistat on_ctx(SMFICTX *ctx) {
  (void)ctx;
  return SMFIS_CONTINUE;
}

static sfsistat on_body(SMFICTX *ctx, unsigned char *chunk, size_t len) {
  (void)ctx;
  (void)chunk;
  (void)len;
  return content_step();
}

static int all_steps = 0;

/* With -a: a header of the shape and size of meshgate's Mesh-Security-Signal (the tags of
 * docs/security-signal.md, a base64url SHA-512 digest and Ed25519 signature of 86 characters
 * each, one tag per folded line), inserted where meshgate inserts it: at index 0. */
static char signal_like[512];

static void make_signal_like(void) {
  char b64[87];
  memset(b64, 'A', 86);
  b64[86] = '\0';
  snprintf(signal_like, sizeof signal_like,
           "v=1;\n\tgw=mx1.example.com;\n\tkid=MCCR-IPW7-AUHT-I7HV-FX4A-CLD3-LU7E;\n"
           "\tt=1800000000;\n\tcontact=known-contact;\n"
           "\th=from:sender:reply-to:to:cc:subject:date:message-id;\n\tbh=%s;\n\ts=%s",
           b64, b64);
}

static sfsistat on_eom(SMFICTX *ctx) {
  int r = all_steps ? smfi_insheader(ctx, 0, "X-Null-Milter", signal_like)
                    : smfi_addheader(ctx, "X-Null-Milter", "1");
  return r == MI_SUCCESS ? SMFIS_CONTINUE : SMFIS_TEMPFAIL;
}

static sfsistat on_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
                             unsigned long f3, unsigned long *pf0, unsigned long *pf1,
                             unsigned long *pf2, unsigned long *pf3) {
  (void)ctx;
  (void)f2;
  (void)f3;
  const unsigned long kNoReply =
      SMFIP_NR_CONN | SMFIP_NR_MAIL | SMFIP_NR_HDR | SMFIP_NR_EOH | SMFIP_NR_BODY;
  unsigned long skip = SMFIP_NOUNKNOWN | SMFIP_NODATA | SMFIP_NOHELO;
  if (all_steps) {
    /* All or none, so that content_step() answers what the MTA expects. */
    if ((f1 & kNoReply) == kNoReply) skip |= kNoReply;
  } else {
    skip |= SMFIP_NOCONNECT | SMFIP_NORCPT | SMFIP_NOHDRS | SMFIP_NOEOH | SMFIP_NOBODY;
  }
  *pf0 = f0 & SMFIF_ADDHDRS;
  *pf1 = f1 & skip;
  if (all_steps) no_reply = (*pf1 & kNoReply) == kNoReply;
  *pf2 = 0;
  *pf3 = 0;
  return SMFIS_CONTINUE;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "-a") == 0) {
    all_steps = 1;
    make_signal_like();
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
    desc.xxfi_envrcpt = on_envrcpt;
    desc.xxfi_header = on_header;
    desc.xxfi_eoh = on_eoh;
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
          all_steps ? "meshgate's conversation" : "envfrom and eom only");
  return smfi_main() == MI_SUCCESS ? 0 : 1;
}
