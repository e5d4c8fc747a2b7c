#ifndef WIRETAPE_CCRYPTO_SHIM_H
#define WIRETAPE_CCRYPTO_SHIM_H
// The system libcrypto (OpenSSL 3, Debian libssl-dev): SHA-256, HMAC-SHA256 and MD5 for
// AWS Signature V4 and S3 Content-MD5. NIOSSL's bundled BoringSSL prefixes its symbols,
// so the two do not clash.
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <openssl/md5.h>
#endif
