// NAME
//   tls_files.h - the Mesh service's certificate and key: checks them, and on first start
//   creates a self-signed pair when the configuration allows it.
//
// SYNOPSIS
//   Status st = ensureTlsFiles(config.mesh_service);   // before building the TLS context
//
// DESCRIPTION
//   When tls.create_self_signed is true and neither tls.certificate nor tls.private_key exists,
//   creates an EC P-256 key (mode 0600, written to a temporary file and renamed into place) and
//   a self-signed X.509 v3 certificate valid for ten years: subject CN = service_name,
//   subjectAltName DNS:service_name plus the listen host (as IP or DNS), extendedKeyUsage
//   serverAuth. Clients that have no other way to trust it pin it (curl --cacert, the resolver's
//   trusted_certificates). Exactly one of the two files missing is an error: meshgate never
//   overwrites half of an operator's pair.
//
//   Existing files are checked: both readable, the key not readable by group or others.
//
// SECURITY
//   The private key is created 0600 and never world-readable, even briefly.
//
// THREAD SAFETY
//   Call from the starting thread only.
//
// ERRORS
//   kNotFound: a file is missing and may not be created. kFailedPrecondition: one of the pair
//   missing, or the key file's mode too open. kUnavailable: a file cannot be written.
//   kInternal: OpenSSL failed (its error text is included).
#pragma once

#include "gateway/config/config.h"
#include "gateway/util/status.h"

namespace meshgate::meshsvc {

Status ensureTlsFiles(const config::MeshServiceSection& section);

}  // namespace meshgate::meshsvc
