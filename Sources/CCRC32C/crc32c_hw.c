// Hardware CRC-32C (Castagnoli) with the SSE4.2 CRC32 instruction. The function is compiled
// for SSE4.2 with a target attribute, so the rest of the package needs no special flags;
// callers check wiretape_crc32c_hw_available() first and fall back to software otherwise.
#include "CCRC32C.h"
#include <string.h>

#if defined(__x86_64__)
#include <nmmintrin.h>

int wiretape_crc32c_hw_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2") ? 1 : 0;
}

__attribute__((target("sse4.2")))
uint32_t wiretape_crc32c_hw_update(uint32_t crc, const void *data, size_t len) {
    const unsigned char *p = (const unsigned char *)data;
    uint64_t c = (uint32_t)~crc;
    while (len >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c = _mm_crc32_u64(c, v);
        p += 8;
        len -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (len--) c32 = _mm_crc32_u8(c32, *p++);
    return ~c32;
}
#else
int wiretape_crc32c_hw_available(void) { return 0; }
uint32_t wiretape_crc32c_hw_update(uint32_t crc, const void *data, size_t len) {
    (void)data;
    (void)len;
    return crc;  // never called: wiretape_crc32c_hw_available() is 0 here
}
#endif
